"""Recommendation models: pure computation behind one small interface (see base.py)."""
