"""Tiny synthetic data with planted structure: two taste groups of users and movies."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kryptonite.models.data import TrainData

N_USERS, N_ITEMS, PER_USER = 60, 40, 10


def planted(
    n_users: int = N_USERS, n_items: int = N_ITEMS, per_user: int = PER_USER, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Users 1..n interact only with movies of their group (odd/even ids), in time order;
    group-0 users rate high, so ratings carry signal too."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(1, n_users + 1):
        group = user % 2
        pool = np.arange(1, n_items + 1)[(np.arange(1, n_items + 1) % 2) == group]
        for t, movie in enumerate(rng.choice(pool, size=per_user, replace=False)):
            rating = float(
                np.clip(np.round((3.5 + 1.0 * (group == 0) + rng.normal(0, 0.5)) * 2) / 2, 0.5, 5)
            )
            rows.append((user, int(movie), rating, 1_000_000 + 100 * t + user))
    ratings = pd.DataFrame(rows, columns=["user_id", "movie_id", "rating", "timestamp"])
    ratings["rating"] = ratings["rating"].astype("float32")
    movies = pd.DataFrame(
        {
            "movie_id": np.arange(1, n_items + 1),
            "title": [f"Movie {i} ({1990 + i % 20})" for i in range(1, n_items + 1)],
            "genres": [
                ["Comedy"] if i % 2 else ["Horror", "Thriller"] for i in range(1, n_items + 1)
            ],
        }
    )
    tags = pd.DataFrame(
        {
            "user_id": 1,
            "movie_id": np.arange(1, n_items + 1),
            "tag": ["funny" if i % 2 else "scary" for i in range(1, n_items + 1)],
            "timestamp": 0,
        }
    )
    return ratings, movies, tags


@pytest.fixture(scope="session")
def tiny() -> TrainData:
    ratings, movies, tags = planted()
    return TrainData(ratings, movies=movies, tags=tags)
