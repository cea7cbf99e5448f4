"""Deterministic splits shared by every model (convention 8)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class LeaveLastOut:
    """Per user, by time: last interaction = test, the one before = validation."""

    train: pd.DataFrame  # everything before validation
    validation: pd.DataFrame  # one row per user
    test: pd.DataFrame  # one row per user

    @property
    def train_val(self) -> pd.DataFrame:
        """Training rows for the final (test) fit: train plus validation."""
        return pd.concat([self.train, self.validation], ignore_index=True)


def leave_last_out(ratings: pd.DataFrame, min_interactions: int = 3) -> LeaveLastOut:
    """Split ratings; users with fewer than ``min_interactions`` stay wholly in train.

    Ties in timestamp are broken by movie_id, so the split is fully deterministic.
    """
    frame = ratings.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    pos_from_end = frame.groupby("user_id").cumcount(ascending=False).to_numpy()
    size = frame.groupby("user_id")["movie_id"].transform("size").to_numpy()
    eligible = size >= min_interactions
    test = eligible & (pos_from_end == 0)
    val = eligible & (pos_from_end == 1)
    return LeaveLastOut(
        train=frame[~(test | val)].reset_index(drop=True),
        validation=frame[val].reset_index(drop=True),
        test=frame[test].reset_index(drop=True),
    )


def random_split(
    ratings: pd.DataFrame, test_fraction: float = 0.2, seed: int = 42
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seeded random split of rating rows (for RMSE/MAE of explicit models)."""
    rng = np.random.default_rng(seed)
    mask = rng.random(len(ratings)) < test_fraction
    return ratings[~mask].reset_index(drop=True), ratings[mask].reset_index(drop=True)


@dataclass(frozen=True)
class RandomSplit:
    """Per user, a random share of interactions held out (the "what else" protocol)."""

    train: pd.DataFrame
    test: pd.DataFrame  # several rows per evaluated user


def random_per_user(
    ratings: pd.DataFrame,
    test_fraction: float = 0.25,
    seed: int = 42,
    min_interactions: int = 4,
) -> RandomSplit:
    """Seeded per-user split (MS Recommenders' ``python_stratified_split`` shape).

    Each user with at least ``min_interactions`` rows gets ``round(n * test_fraction)``
    (at least one) of them, drawn at random, held out; other users stay wholly in train.
    The draw depends only on the seed and the rows, not on their order.
    """
    frame = ratings.sort_values(["user_id", "movie_id", "timestamp"], kind="stable")
    frame = frame.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    key = rng.random(len(frame))
    order = pd.Series(key).groupby(frame["user_id"].to_numpy()).rank(method="first").to_numpy()
    size = frame.groupby("user_id")["movie_id"].transform("size").to_numpy()
    n_test = np.maximum(np.round(size * test_fraction), 1)
    test = (size >= min_interactions) & (order <= n_test)
    return RandomSplit(
        train=frame[~test].reset_index(drop=True), test=frame[test].reset_index(drop=True)
    )


def ml100k_style(ratings: pd.DataFrame, n_items: int = 1682, min_user: int = 20) -> pd.DataFrame:
    """An ML-100k-shaped subset of a larger MovieLens: the ``n_items`` most-rated movies
    (ML-100k has 1,682) and the users with at least ``min_user`` ratings among them (as in
    ML-100k). Used to compare with published ML-100k figures when only another release
    (here ml-latest-small) is at hand; it is a look-alike, not ML-100k.
    """
    counts = ratings.groupby("movie_id").size().sort_values(ascending=False, kind="stable")
    keep = ratings[ratings["movie_id"].isin(counts.index[:n_items])]
    per_user = keep.groupby("user_id")["movie_id"].transform("size")
    return keep[per_user >= min_user].reset_index(drop=True)
