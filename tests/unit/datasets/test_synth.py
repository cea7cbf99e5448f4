"""The synthetic generator: exact shape, valid MovieLens files, skew and learnable signal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.datasets.synth import GENRES, HEADERS, generate

USERS, MOVIES, RATINGS = 400, 1_500, 30_000


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate(out, users=USERS, movies=MOVIES, ratings=RATINGS, seed=7)
    return out


@pytest.fixture(scope="module")
def ratings(synth_dir: Path) -> pd.DataFrame:
    return pd.read_csv(synth_dir / "ratings.csv")


def test_headers_match_movielens(synth_dir: Path) -> None:
    for name, header in HEADERS.items():
        assert (synth_dir / name).read_text().split("\n", 1)[0] == ",".join(header)


def test_exact_counts_and_unique_pairs(ratings: pd.DataFrame, synth_dir: Path) -> None:
    assert len(ratings) == RATINGS
    assert not ratings.duplicated(["userId", "movieId"]).any()
    assert ratings["userId"].nunique() == USERS
    assert ratings.groupby("userId").size().min() >= 5
    movies = pd.read_csv(synth_dir / "movies.csv")
    assert len(movies) == MOVIES and movies["movieId"].is_unique
    assert ratings["movieId"].isin(movies["movieId"]).all()
    assert movies["title"].str.fullmatch(r"Synthetic Movie \d+ \(\d{4}\)").all()


def test_values_in_range(ratings: pd.DataFrame, synth_dir: Path) -> None:
    values = ratings["rating"].to_numpy()
    assert values.min() >= 0.5 and values.max() <= 5.0
    assert np.all(values * 2 == np.round(values * 2))
    assert 3.0 < values.mean() < 4.0
    gaps = ratings.groupby("userId")["timestamp"].diff().dropna()
    assert (gaps > 0).all()  # strictly increasing per user, in file order
    genres = pd.read_csv(synth_dir / "movies.csv")["genres"].str.split("|")
    assert genres.map(len).between(1, 3).all()
    assert set(genres.explode()) <= set(GENRES)


def test_parses_with_zero_skips(synth_dir: Path) -> None:
    frames = load_dataset(get_spec("synth-x"), synth_dir)
    assert frames.report.total_skipped == 0
    assert len(frames.ratings) == RATINGS and len(frames.movies) == MOVIES
    assert len(frames.links) == MOVIES and len(frames.tags) > 0


def test_deterministic_by_seed(tmp_path: Path) -> None:
    kwargs = {"users": 50, "movies": 80, "ratings": 1_000}
    generate(tmp_path / "a", seed=1, **kwargs)
    generate(tmp_path / "b", seed=1, **kwargs)
    generate(tmp_path / "c", seed=2, **kwargs)
    for name in HEADERS:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert (tmp_path / "a/ratings.csv").read_bytes() != (tmp_path / "c/ratings.csv").read_bytes()


def test_small_dense_edge_case(tmp_path: Path) -> None:
    generate(tmp_path, users=4, movies=6, ratings=23, seed=0)  # almost every pair
    frame = pd.read_csv(tmp_path / "ratings.csv")
    assert len(frame) == 23 and not frame.duplicated(["userId", "movieId"]).any()
    with pytest.raises(ValueError):
        generate(tmp_path, users=4, movies=6, ratings=25, seed=0)


def test_popularity_is_skewed(ratings: pd.DataFrame) -> None:
    per_movie = ratings.groupby("movieId").size().sort_values(ascending=False)
    top = per_movie.iloc[: MOVIES // 10].sum() / per_movie.sum()
    assert top > 0.35, top  # uniform would give 0.1
    per_user = ratings.groupby("userId").size()
    assert per_user.max() > 5 * per_user.median()


def _fit(train: pd.DataFrame, rank: int = 8, reg: float = 5.0, iters: int = 8):
    """Biased baseline + ALS on its residuals; returns ``predict(u, m, latent=True)``."""
    users, u_idx = np.unique(train["userId"], return_inverse=True)
    movies, m_idx = np.unique(train["movieId"], return_inverse=True)
    r = train["rating"].to_numpy()
    mu = r.mean()
    b_i = np.bincount(m_idx, r - mu) / (np.bincount(m_idx) + 5)
    b_u = np.bincount(u_idx, r - mu - b_i[m_idx]) / (np.bincount(u_idx) + 5)
    res = r - mu - b_i[m_idx] - b_u[u_idx]
    rng = np.random.default_rng(0)
    p = 0.1 * rng.standard_normal((len(users), rank))
    q = 0.1 * rng.standard_normal((len(movies), rank))
    eye = reg * np.eye(rank)
    for _ in range(iters):
        for a, b, idx_a, idx_b in ((p, q, u_idx, m_idx), (q, p, m_idx, u_idx)):
            for k in range(len(a)):
                rows = idx_a == k
                bk = b[idx_b[rows]]
                a[k] = np.linalg.solve(bk.T @ bk + eye, bk.T @ res[rows])

    def predict(u: np.ndarray, m: np.ndarray, latent: bool = True) -> np.ndarray:
        ui, mi = np.searchsorted(users, u), np.searchsorted(movies, m)
        base = mu + b_u[ui] + b_i[mi]
        return base + np.sum(p[ui] * q[mi], axis=1) if latent else base

    item_mean = {int(k): mu + v for k, v in zip(movies, b_i, strict=True)}
    return predict, item_mean


def test_latent_structure_is_learnable(ratings: pd.DataFrame) -> None:
    rng = np.random.default_rng(0)
    held_out = rng.random(len(ratings)) < 0.2
    train, test = ratings[~held_out], ratings[held_out]
    test = test[test["movieId"].isin(train["movieId"])]
    predict, item_mean = _fit(train)
    u, m, truth = (test[c].to_numpy() for c in ("userId", "movieId", "rating"))

    def rmse(pred: np.ndarray) -> float:
        return float(np.sqrt(np.mean((pred - truth) ** 2)))

    items = rmse(np.array([item_mean[int(x)] for x in m]))
    biases = rmse(predict(u, m, latent=False))
    factors = rmse(predict(u, m))
    # Taste vectors carry signal beyond item means and user/item biases.
    assert factors < 0.9 * items and factors < 0.95 * biases, (factors, biases, items)
