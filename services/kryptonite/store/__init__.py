"""Persistence: SQLAlchemy Core tables and queries, migrations, caches, artifacts."""
