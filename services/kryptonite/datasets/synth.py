"""Synthetic MovieLens-format data sets with structure models can learn.

The generative story, all vectorized numpy:

* movies get 1-3 real MovieLens genres and a Zipf-like popularity;
* users and movies get low-rank taste vectors; a movie's vector is partly the sum of its
  genres' vectors, so genre and taste line up;
* each user rates a lognormal number of movies (at least ``min_ratings``): per rating, a
  genre is drawn from the user's genre affinity, then a few candidates from that genre by
  popularity, and the candidate that fits the user's taste best (with Gumbel noise) wins;
* rating = global mean + user bias + movie bias + taste dot product + noise, clipped to
  0.5-5 and rounded to halves; timestamps increase per user.

Users are generated in blocks of about ``block_ratings`` ratings, so memory stays flat
and 25M ratings stream to disk block by block.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

#: MovieLens genres with their frequency in ml-latest-small (a prior for synthetic movies).
GENRE_WEIGHTS: dict[str, int] = {
    "Drama": 4361, "Comedy": 3756, "Thriller": 1894, "Action": 1828, "Romance": 1596,
    "Adventure": 1263, "Crime": 1199, "Sci-Fi": 980, "Horror": 978, "Fantasy": 779,
    "Children": 664, "Animation": 611, "Mystery": 573, "Documentary": 440, "War": 382,
    "Musical": 334, "Western": 167, "IMAX": 158, "Film-Noir": 87,
}  # fmt: skip
GENRES = list(GENRE_WEIGHTS)
GENRE_TAGS: dict[str, tuple[str, ...]] = {
    "Drama": ("moving", "character study"), "Comedy": ("funny", "witty"),
    "Thriller": ("suspense", "tense"), "Action": ("explosions", "fast-paced"),
    "Romance": ("love story", "romantic"), "Adventure": ("epic", "journey"),
    "Crime": ("heist", "gangsters"), "Sci-Fi": ("space", "dystopia"),
    "Horror": ("scary", "gore"), "Fantasy": ("magic", "dragons"),
    "Children": ("family", "kids"), "Animation": ("pixar", "animated"),
    "Mystery": ("whodunit", "twist ending"), "Documentary": ("true story", "informative"),
    "War": ("wwii", "battle"), "Musical": ("songs", "dance"), "Western": ("cowboys", "desert"),
    "IMAX": ("visually stunning", "big screen"), "Film-Noir": ("noir", "femme fatale"),
}  # fmt: skip
GENERAL_TAGS = ("atmospheric", "classic", "overrated", "great soundtrack", "thought-provoking")
HEADERS = {
    "ratings.csv": ["userId", "movieId", "rating", "timestamp"],
    "movies.csv": ["movieId", "title", "genres"],
    "tags.csv": ["userId", "movieId", "tag", "timestamp"],
    "links.csv": ["movieId", "imdbId", "tmdbId"],
}
RATING_TEXT = np.array([f"{x / 2:.1f}" for x in range(11)], dtype=object)  # fast CSV
DRAW_CHUNK = 1 << 17  # slots per vectorized draw (bounds the slots x genres matrices)
T_START, T_END = 820_454_400, 1_537_056_000  # 1996-01-01 .. 2018-09-16, like ml-latest


@dataclass(frozen=True)
class SynthConfig:
    """Knobs of the generative model; the defaults look roughly like MovieLens."""

    latent_dim: int = 8
    popularity_exponent: float = 1.0  # Zipf exponent of movie popularity
    activity_sigma: float = 1.2  # lognormal sigma of ratings per user
    min_ratings: int = 5  # per user (lowered only when ratings < users * min_ratings)
    genre_alignment: float = 0.6  # share of a movie's taste vector explained by genres
    taste_choice: float = 1.5  # how strongly taste steers which movies a user rates
    candidates: int = 3  # popularity draws per rating; taste picks one of them
    taste_scale: float = 1.0  # std of the taste dot product in rating units
    noise: float = 0.5  # std of rating noise
    mean: float = 2.8  # before selection: users pick movies they like, so rated ones skew up
    tags_per_rating: float = 1 / 30
    block_ratings: int = 1_000_000
    sample_rounds: int = 6  # redraw rounds for duplicate pairs before an exact fill


@dataclass(frozen=True)
class SynthSummary:
    out_dir: Path
    users: int
    movies: int
    ratings: int
    tags: int
    seconds: float


@dataclass
class _World:
    """Everything per user and per movie; ratings are drawn from it block by block."""

    movie_ids: np.ndarray
    primary_genre: np.ndarray
    user_factors: np.ndarray  # (users, d) float32
    item_factors: np.ndarray  # (movies, d) float32
    user_bias: np.ndarray
    item_bias: np.ndarray
    genre_logits: np.ndarray  # (users, genres): log genre mass + taste affinity
    counts: np.ndarray  # ratings per user
    member_items: np.ndarray  # movies of each genre, concatenated genre by genre
    member_cum: np.ndarray  # running popularity over member_items
    genre_start: np.ndarray  # index of each genre's first member
    genre_end: np.ndarray
    genre_base: np.ndarray  # member_cum before each genre's first member
    genre_mass: np.ndarray
    popularity: np.ndarray


def generate(
    out_dir: Path,
    *,
    users: int,
    movies: int,
    ratings: int,
    seed: int = 0,
    config: SynthConfig | None = None,
    progress: bool = False,
) -> SynthSummary:
    """Write ratings/movies/tags/links.csv (ml-latest-small headers) into ``out_dir``."""
    cfg = config or SynthConfig()
    if users < 1 or movies < 1:
        raise ValueError("users and movies must be positive")
    if not users <= ratings <= users * movies:
        raise ValueError(f"ratings must be between users ({users}) and users*movies")
    started = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    world_seq, block_seq = np.random.SeedSequence(seed).spawn(2)
    rng = np.random.default_rng(world_seq)
    world, genre_text, years = _world(rng, users, movies, ratings, cfg)
    _write_movies(out_dir, world, genre_text, years)

    cum = np.cumsum(world.counts)
    cuts = np.searchsorted(cum, np.arange(cfg.block_ratings, ratings, cfg.block_ratings))
    edges = np.unique(np.concatenate([[0], np.minimum(cuts + 1, users), [users]]))
    seqs = block_seq.spawn(len(edges) - 1)
    n_tags = 0
    parts = {name: out_dir / f"{name}.part" for name in ("ratings.csv", "tags.csv")}
    try:
        with parts["ratings.csv"].open("w") as rf, parts["tags.csv"].open("w") as tf:
            rf.write(",".join(HEADERS["ratings.csv"]) + "\n")
            tf.write(",".join(HEADERS["tags.csv"]) + "\n")
            blocks = zip(edges[:-1], edges[1:], seqs, strict=True)
            for lo, hi, seq in tqdm(blocks, total=len(seqs), disable=not progress, desc="synth"):
                block_rng = np.random.default_rng(seq)
                frame = _block(block_rng, world, int(lo), int(hi), cfg)
                text = frame.assign(rating=RATING_TEXT[(frame["rating"] * 2).astype(np.int64)])
                text.to_csv(rf, header=False, index=False)
                tags = _tags(block_rng, world, frame, cfg)
                tags.to_csv(tf, header=False, index=False)
                n_tags += len(tags)
    except BaseException:
        for part in parts.values():
            part.unlink(missing_ok=True)
        raise
    for name, part in parts.items():
        os.replace(part, out_dir / name)
    return SynthSummary(out_dir, users, movies, ratings, n_tags, time.perf_counter() - started)


# ---------------------------------------------------------------- the world


def _world(
    rng: np.random.Generator, users: int, movies: int, ratings: int, cfg: SynthConfig
) -> tuple[_World, list[str], np.ndarray]:
    d, n_genres = cfg.latent_dim, len(GENRES)
    movie_ids = np.cumsum(rng.geometric(0.7, movies)).astype(np.int64)  # sparse, like ML
    years = np.clip(2018 - rng.exponential(14.0, movies).astype(np.int64), 1902, 2018)

    # 1-3 distinct genres per movie, drawn by the MovieLens genre frequencies (Gumbel top-k).
    weights = np.array(list(GENRE_WEIGHTS.values()), dtype=np.float64)
    keys = np.log(weights / weights.sum()) + rng.gumbel(size=(movies, n_genres))
    order = np.argsort(-keys, axis=1)
    k = rng.choice([1, 2, 3], size=movies, p=[0.45, 0.35, 0.20])
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(n_genres)[None, :], axis=1)
    has_genre = ranks < k[:, None]
    genre_text = ["|".join(GENRES[g] for g in np.flatnonzero(row)) for row in has_genre]

    # Taste: movie vector = aligned genre part + free part; unit variance per component.
    genre_vecs = rng.standard_normal((n_genres, d))
    aligned = (has_genre @ genre_vecs) / np.sqrt(k)[:, None]
    free = rng.standard_normal((movies, d))
    a = cfg.genre_alignment
    item_factors = (np.sqrt(a) * aligned + np.sqrt(1 - a) * free).astype(np.float32)
    user_factors = rng.standard_normal((users, d)).astype(np.float32)

    popularity = np.arange(1, movies + 1, dtype=np.float64) ** -cfg.popularity_exponent
    popularity = popularity[rng.permutation(movies)]
    log_pop = np.log(popularity)
    item_bias = 0.3 * rng.standard_normal(movies) + 0.1 * (log_pop - log_pop.mean()) / (
        log_pop.std() + 1e-9
    )
    user_bias = 0.35 * rng.standard_normal(users)

    genre_of, member_items = np.nonzero(has_genre.T)  # sorted by genre, then movie
    member_cum = np.cumsum(popularity[member_items])
    genre_start = np.searchsorted(genre_of, np.arange(n_genres))
    genre_end = np.searchsorted(genre_of, np.arange(n_genres), side="right")
    genre_mass = np.bincount(genre_of, weights=popularity[member_items], minlength=n_genres)
    genre_base = np.concatenate([[0.0], member_cum])[genre_start]
    affinity = (user_factors @ genre_vecs.T.astype(np.float32)) / np.sqrt(d)
    with np.errstate(divide="ignore"):
        genre_logits = np.log(genre_mass)[None, :] + cfg.taste_choice * np.sqrt(a) * affinity

    world = _World(
        movie_ids=movie_ids,
        primary_genre=order[:, 0],
        user_factors=user_factors,
        item_factors=item_factors,
        user_bias=user_bias,
        item_bias=item_bias,
        genre_logits=genre_logits,
        counts=_activity(rng, users, movies, ratings, cfg),
        member_items=member_items,
        member_cum=member_cum,
        genre_start=genre_start,
        genre_end=genre_end,
        genre_base=genre_base,
        genre_mass=genre_mass,
        popularity=popularity,
    )
    return world, genre_text, years


def _activity(
    rng: np.random.Generator, users: int, movies: int, ratings: int, cfg: SynthConfig
) -> np.ndarray:
    """Ratings per user: a floor plus a lognormal share, capped, summing to ``ratings``."""
    floor = min(cfg.min_ratings, ratings // users, movies)
    cap = max(floor, int(0.5 * movies))
    if users * cap < ratings:
        cap = movies
    weight = rng.lognormal(0.0, cfg.activity_sigma, users)
    counts = np.full(users, floor, dtype=np.int64)
    while (left := ratings - int(counts.sum())) > 0:
        open_ = counts < cap
        share = np.zeros(users)
        share[open_] = weight[open_] / weight[open_].sum()
        add = np.floor(left * share).astype(np.int64)
        if add.sum() == 0:  # the last few: one each to the heaviest open users
            top = np.argsort(-np.where(open_, weight, -1.0), kind="stable")[:left]
            add[top[open_[top]]] = 1
        counts = np.minimum(counts + add, cap)
    return counts


def _write_movies(out_dir: Path, world: _World, genre_text: list[str], years: np.ndarray) -> None:
    ids = world.movie_ids
    titles = [
        f"Synthetic Movie {i} ({y})" for i, y in zip(ids.tolist(), years.tolist(), strict=True)
    ]
    movies = pd.DataFrame({"movieId": ids, "title": titles, "genres": genre_text})
    links = pd.DataFrame(
        {
            # Far above real IMDb/TMDB ids, so joins with real metadata never match.
            "movieId": ids,
            "imdbId": pd.Series(90_000_000 + ids).astype(str).str.zfill(8),
            "tmdbId": 90_000_000 + ids,
        }
    )
    for name, frame in (("movies.csv", movies), ("links.csv", links)):
        part = out_dir / f"{name}.part"
        frame.to_csv(part, index=False, header=HEADERS[name])
        os.replace(part, out_dir / name)


# ---------------------------------------------------------------- one block of users


def _block(
    rng: np.random.Generator, world: _World, lo: int, hi: int, cfg: SynthConfig
) -> pd.DataFrame:
    """Ratings of users ``lo..hi-1``, sorted by user and time."""
    n_movies = len(world.movie_ids)
    target = world.counts[lo:hi]
    genre_cum = _genre_cdf(world.genre_logits[lo:hi])
    keys = np.empty(0, dtype=np.int64)  # local_user * n_movies + movie index, sorted, unique
    need = target.copy()
    # Weighted sampling without replacement: draw, drop pairs already taken, keep the first
    # ``need`` new ones per user in draw order; oversample more each round for the tail.
    for round_ in range(cfg.sample_rounds):
        total_need = int(need.sum())
        if total_need == 0:
            break
        factor = max(1, min(2**round_, cfg.block_ratings // (2 * total_need)))
        slots = np.repeat(np.arange(hi - lo), need * factor)
        items = np.concatenate(
            [
                _draw(rng, world, genre_cum, slots[s : s + DRAW_CHUNK], lo, cfg)
                for s in range(0, len(slots), DRAW_CHUNK)
            ]
        )
        keys = _merge(keys, _first_new(keys, slots, slots * n_movies + items, need))
        need = target - np.bincount(keys // n_movies, minlength=hi - lo)
    if need.any():
        keys = _fill_exact(rng, keys, need, world.popularity)
    local, items = np.divmod(keys, n_movies)
    users = local + lo

    # Rating order within a user is random; time gaps are mostly minutes, sometimes weeks.
    order = np.lexsort((rng.random(len(keys)), local))
    users, items = users[order], items[order]
    gaps = (
        np.where(
            rng.random(len(keys)) < 0.05,
            rng.exponential(20 * 86_400, len(keys)),
            rng.exponential(180, len(keys)),
        ).astype(np.int64)
        + 1
    )
    running = np.cumsum(gaps)
    before = np.concatenate([[0], running])[np.searchsorted(users, np.arange(lo, hi))]
    span = np.bincount(users - lo, weights=gaps, minlength=hi - lo).astype(np.int64)
    room = np.maximum(T_END - T_START - span, 0)
    start = T_START + (rng.random(hi - lo) * room).astype(np.int64)
    stamps = start[users - lo] + running - before[users - lo]

    taste = _dot(world, users, items) * (cfg.taste_scale / np.sqrt(cfg.latent_dim))
    raw = cfg.mean + world.user_bias[users] + world.item_bias[items] + taste
    raw += cfg.noise * rng.standard_normal(len(keys))
    rating = np.clip(np.round(raw * 2) / 2, 0.5, 5.0)
    return pd.DataFrame(
        {
            "userId": users + 1,
            "movieId": world.movie_ids[items],
            "rating": rating,
            "timestamp": stamps,
        }
    )


def _genre_cdf(logits: np.ndarray) -> np.ndarray:
    """Per-user genre CDFs, offset by the row number so one searchsorted serves all rows."""
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    cum = np.cumsum(prob, axis=1)
    cum /= cum[:, -1:]
    return (cum + np.arange(len(cum))[:, None]).ravel()


def _draw(
    rng: np.random.Generator,
    world: _World,
    genre_cum: np.ndarray,
    local: np.ndarray,
    lo: int,
    cfg: SynthConfig,
) -> np.ndarray:
    """One movie index per slot: genre by affinity, candidates by popularity, taste picks."""
    n_genres = len(GENRES)
    flat = np.searchsorted(genre_cum, local + rng.random(len(local)), side="right")
    genre = np.clip(flat - local * n_genres, 0, n_genres - 1)
    pick = (
        world.genre_base[genre][:, None]
        + rng.random((len(local), cfg.candidates)) * (world.genre_mass[genre][:, None])
    )
    idx = np.searchsorted(world.member_cum, pick, side="right")
    idx = np.clip(idx, world.genre_start[genre][:, None], world.genre_end[genre][:, None] - 1)
    cand = world.member_items[idx]
    users = local + lo
    fit = np.einsum("sd,scd->sc", world.user_factors[users], world.item_factors[cand])
    score = (cfg.taste_choice / np.sqrt(cfg.latent_dim)) * fit + rng.gumbel(size=fit.shape)
    return cand[np.arange(len(local)), score.argmax(axis=1)]


def _first_new(keys: np.ndarray, slots: np.ndarray, new: np.ndarray, need: np.ndarray):
    """Per user (``slots`` grouped by user), the first ``need`` keys not in ``keys``."""
    pos = np.minimum(np.searchsorted(keys, new), max(len(keys) - 1, 0))
    fresh = keys[pos] != new if len(keys) else np.ones(len(new), dtype=bool)
    slots, new = slots[fresh], new[fresh]
    order = np.argsort(new, kind="stable")
    first = np.ones(len(new), dtype=bool)
    first[1:] = new[order][1:] != new[order][:-1]
    keep = np.sort(order[first])  # first occurrence of each key, in draw order
    slots, new = slots[keep], new[keep]
    start = np.searchsorted(slots, slots, side="left")
    rank = np.arange(len(slots)) - start
    return new[rank < need[slots]]


def _merge(keys: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Sorted unique union of sorted-unique ``keys`` and any ``new`` keys."""
    new = np.sort(new)
    new = new[np.concatenate([[True], new[1:] != new[:-1]])] if len(new) else new
    pos = np.searchsorted(keys, new)
    seen = np.zeros(len(new), dtype=bool)
    inside = pos < len(keys)
    seen[inside] = keys[pos[inside]] == new[inside]
    return np.insert(keys, pos[~seen], new[~seen])


def _fill_exact(
    rng: np.random.Generator, keys: np.ndarray, need: np.ndarray, popularity: np.ndarray
) -> np.ndarray:
    """Top up users still short after sampling (heavy raters): Gumbel top-k by popularity."""
    n_movies = len(popularity)
    short = np.flatnonzero(need)
    log_pop = np.log(popularity)
    extra = []
    step = max(1, (1 << 22) // n_movies)
    for s in range(0, len(short), step):
        rows = short[s : s + step]
        score = log_pop + rng.gumbel(size=(len(rows), n_movies))
        lo, hi = (
            np.searchsorted(keys, rows * n_movies),
            np.searchsorted(keys, (rows + 1) * n_movies),
        )
        owner = np.repeat(np.arange(len(rows)), hi - lo)
        taken = keys[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])]
        score[owner, taken - rows[owner] * n_movies] = -np.inf
        rank = np.argsort(-score, axis=1)
        chosen = np.arange(n_movies)[None, :] < need[rows][:, None]
        extra.append((rows[:, None] * n_movies + rank)[chosen])
    return _merge(keys, np.concatenate(extra))


def _dot(world: _World, users: np.ndarray, items: np.ndarray, chunk: int = 1 << 18) -> np.ndarray:
    out = np.empty(len(users), dtype=np.float64)
    for s in range(0, len(users), chunk):
        u, i = users[s : s + chunk], items[s : s + chunk]
        out[s : s + chunk] = np.einsum("nd,nd->n", world.user_factors[u], world.item_factors[i])
    return out


def _tags(
    rng: np.random.Generator, world: _World, ratings: pd.DataFrame, cfg: SynthConfig
) -> pd.DataFrame:
    """A few tags per block, on rated movies: mostly genre words, some general ones."""
    n = int(len(ratings) * cfg.tags_per_rating)
    rows = np.sort(rng.choice(len(ratings), n, replace=False)) if n else np.empty(0, np.int64)
    picked = ratings.iloc[rows]
    items = np.searchsorted(world.movie_ids, picked["movieId"].to_numpy())
    vocab = np.array([t for g in GENRES for t in GENRE_TAGS[g]] + list(GENERAL_TAGS))
    per_genre = len(GENRE_TAGS[GENRES[0]])
    genre_tag = world.primary_genre[items] * per_genre + rng.integers(0, per_genre, n)
    general = len(GENRES) * per_genre + rng.integers(0, len(GENERAL_TAGS), n)
    tag = vocab[np.where(rng.random(n) < 0.7, genre_tag, general)]
    return pd.DataFrame(
        {
            "userId": picked["userId"].to_numpy(),
            "movieId": picked["movieId"].to_numpy(),
            "tag": tag,
            "timestamp": picked["timestamp"].to_numpy() + rng.integers(0, 600, n),
        }
    )
