"""Offline jobs: train -> evaluate -> publish (CLI commands in commands.py)."""
