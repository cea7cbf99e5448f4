"""Per-user uncertainty: percentile bootstrap intervals and paired model comparisons."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

N_BOOT = 1000
LEVEL = 0.95


def _resample_means(values: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n_boot, len(values)))
    return values[idx].mean(axis=1)


def bootstrap_ci(
    values: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 42, level: float = LEVEL
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean, resampling users with replacement."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    means = _resample_means(values, n_boot, seed)
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return (float(lo), float(hi))


def summarize(
    per_user: dict[str, np.ndarray], *, n_boot: int = N_BOOT, seed: int = 42
) -> dict[str, dict[str, Any]]:
    """``{metric: {"mean", "ci95": [lo, hi], "n_users"}}`` for per-user metric vectors."""
    out = {}
    for name, values in per_user.items():
        lo, hi = bootstrap_ci(values, n_boot=n_boot, seed=seed)
        out[name] = {"mean": float(np.mean(values)) if len(values) else 0.0, "ci95": [lo, hi]}
        out[name]["n_users"] = int(len(values))
    return out


def paired_comparison(
    a: np.ndarray, b: np.ndarray, *, n_boot: int = N_BOOT, seed: int = 42
) -> dict[str, Any]:
    """Model ``a`` vs reference ``b`` on the same users (same order).

    Returns the mean difference a - b with its paired-bootstrap 95% interval, the ratio of
    means, the share of resamples where a does not beat b (one-sided bootstrap p) and the
    two-sided Wilcoxon signed-rank p-value (scipy; 1.0 when every difference is zero).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired vectors differ in length: {a.shape} vs {b.shape}")
    diff = a - b
    means = _resample_means(diff, n_boot, seed) if len(diff) else np.zeros(1)
    tail = (1.0 - LEVEL) / 2.0 * 100.0
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    if np.any(diff != 0):
        p_wilcoxon = float(stats.wilcoxon(a, b, zero_method="wilcox").pvalue)
    else:
        p_wilcoxon = 1.0
    mean_b = float(b.mean()) if len(b) else 0.0
    return {
        "mean_diff": float(diff.mean()) if len(diff) else 0.0,
        "ci95": [float(lo), float(hi)],
        "ratio": float(a.mean() / mean_b) if mean_b else None,
        "p_bootstrap_not_better": float(np.mean(means <= 0.0)),
        "p_wilcoxon": p_wilcoxon,
        "n_users": int(len(diff)),
    }
