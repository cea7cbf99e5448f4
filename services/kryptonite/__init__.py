"""Kryptonite: a production-grade movie recommendation system."""

__version__ = "0.1.0"
