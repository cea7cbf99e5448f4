"""The served two-stage pipeline, one path for live requests, precompute and evaluation."""
