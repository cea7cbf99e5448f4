"""Offline evaluation: deterministic splits, pure metrics, protocols, baselines, reports."""
