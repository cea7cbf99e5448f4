"""Interaction matrices and id maps shared by every model.

Models work on dense 0-based indices; :class:`IdMap` converts external ids (MovieLens
``user_id`` / ``movie_id``) both ways. :class:`TrainData` is what every ``fit`` takes: plain
frames, so the same entry serves files, the database and tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp


@dataclass(frozen=True)
class IdMap:
    """Sorted external ids <-> dense indices."""

    ids: np.ndarray

    @classmethod
    def from_ids(cls, ids: Iterable[int] | np.ndarray) -> IdMap:
        return cls(
            np.unique(
                np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
            )
        )

    def __len__(self) -> int:
        return len(self.ids)

    def index(self, ids: Iterable[int] | np.ndarray) -> np.ndarray:
        """Dense index of each id; -1 for ids not in the map."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(self.ids) == 0:
            return np.full(len(ids), -1, dtype=np.int64)
        pos = np.searchsorted(self.ids, ids).clip(0, len(self.ids) - 1)
        return np.where(self.ids[pos] == ids, pos, -1).astype(np.int64)

    def id_of(self, index: np.ndarray) -> np.ndarray:
        return self.ids[np.asarray(index, dtype=np.int64)]


def interaction_matrix(
    frame: pd.DataFrame,
    users: IdMap,
    items: IdMap,
    *,
    values: str | None = None,
) -> sp.csr_matrix:
    """users x items CSR from ``user_id``/``movie_id`` rows (1.0, or column ``values``).

    Rows whose user or item is not in the maps are dropped; duplicates are summed.
    """
    u = users.index(frame["user_id"].to_numpy())
    i = items.index(frame["movie_id"].to_numpy())
    ok = (u >= 0) & (i >= 0)
    data = (
        np.ones(int(ok.sum()), dtype=np.float32)
        if values is None
        else frame[values].to_numpy(dtype=np.float32)[ok]
    )
    mat = sp.csr_matrix((data, (u[ok], i[ok])), shape=(len(users), len(items)), dtype=np.float32)
    mat.sum_duplicates()
    return mat


def history_matrix(
    item_lists: Iterable[Iterable[int] | np.ndarray],
    items: IdMap,
    weights: Iterable[Iterable[float] | None] | None = None,
) -> sp.csr_matrix:
    """One row per list of external movie ids (unknown ids dropped); for fold-in/cold start."""
    rows, cols, vals = [], [], []
    lists = [np.asarray(list(x), dtype=np.int64) for x in item_lists]
    wlists = list(weights) if weights is not None else [None] * len(lists)
    for r, (ids, w) in enumerate(zip(lists, wlists, strict=True)):
        idx = items.index(ids)
        ww = np.ones(len(ids), np.float32) if w is None else np.asarray(list(w), np.float32)
        keep = idx >= 0
        rows.append(np.full(int(keep.sum()), r))
        cols.append(idx[keep])
        vals.append(ww[keep])
    if not lists:
        return sp.csr_matrix((0, len(items)), dtype=np.float32)
    mat = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(len(lists), len(items)),
        dtype=np.float32,
    )
    mat.sum_duplicates()
    return mat


@dataclass
class TrainData:
    """Everything a model may learn from. Only ``ratings`` is required.

    ``ratings``: user_id, movie_id, rating, timestamp (the interactions; for implicit models
    each row is one positive). The id maps default to the ids seen in ``ratings`` (and
    ``movies`` for items), but a caller may pin them so several models share one index.
    """

    ratings: pd.DataFrame
    movies: pd.DataFrame = field(default_factory=pd.DataFrame)
    tags: pd.DataFrame = field(default_factory=pd.DataFrame)
    genome_tags: pd.DataFrame = field(default_factory=pd.DataFrame)
    genome_scores: pd.DataFrame = field(default_factory=pd.DataFrame)
    overviews: pd.DataFrame = field(default_factory=pd.DataFrame)
    user_lists: Mapping[int, list[int]] = field(default_factory=dict)
    #: Implicit positives beyond ratings and lists (views, clicks): user_id, movie_id,
    #: timestamp. They count as interactions for the implicit models, never as ratings.
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    users: IdMap | None = None
    items: IdMap | None = None

    def __post_init__(self) -> None:
        if self.users is None:
            self.users = IdMap.from_ids(
                np.concatenate(
                    [
                        self.ratings["user_id"].to_numpy(dtype=np.int64),
                        np.fromiter(self.user_lists.keys(), dtype=np.int64),
                        self._events()["user_id"].to_numpy(dtype=np.int64),
                    ]
                )
            )
        if self.items is None:
            ids = self.ratings["movie_id"].to_numpy(dtype=np.int64)
            if len(self.movies):
                ids = np.concatenate([ids, self.movies["movie_id"].to_numpy(dtype=np.int64)])
            self.items = IdMap.from_ids(ids)

    @property
    def user_map(self) -> IdMap:
        assert self.users is not None
        return self.users

    @property
    def item_map(self) -> IdMap:
        assert self.items is not None
        return self.items

    def _events(self) -> pd.DataFrame:
        if len(self.events):
            return self.events[["user_id", "movie_id", "timestamp"]]
        return pd.DataFrame(
            {c: pd.Series(dtype="int64") for c in ("user_id", "movie_id", "timestamp")}
        )

    def implicit_matrix(self, *, include_lists: bool = True) -> sp.csr_matrix:
        """Binary users x items: ratings and implicit events, plus personal-list entries."""
        mat = interaction_matrix(self.ratings, self.user_map, self.item_map)
        if len(self.events):
            mat = mat + interaction_matrix(self._events(), self.user_map, self.item_map)
        if include_lists and self.user_lists:
            rows = [(u, m) for u, ms in self.user_lists.items() for m in ms]
            lists = pd.DataFrame(rows, columns=["user_id", "movie_id"])
            mat = mat + interaction_matrix(lists, self.user_map, self.item_map)
        mat.data[:] = 1.0
        return mat.tocsr()

    def ordered_matrix(self) -> sp.csr_matrix:
        """users x items with 1 = each user's most recent interaction, 2 = the one before...

        Personal-list entries count as the most recent. Ties in time break by movie id.
        """
        frame = self.ratings[["user_id", "movie_id", "timestamp"]]
        if len(self.events):
            frame = pd.concat([frame, self._events()], ignore_index=True)
        if self.user_lists:
            rows = [(u, m) for u, ms in self.user_lists.items() for m in ms]
            lists = pd.DataFrame(rows, columns=["user_id", "movie_id"])
            lists["timestamp"] = np.iinfo(np.int64).max
            frame = pd.concat([frame, lists], ignore_index=True)
        frame = frame.sort_values(["user_id", "timestamp", "movie_id"], kind="stable")
        frame = frame.drop_duplicates(["user_id", "movie_id"], keep="last").copy()
        frame["order"] = frame.groupby("user_id").cumcount(ascending=False).to_numpy() + 1.0
        mat = interaction_matrix(frame, self.user_map, self.item_map, values="order")
        return mat

    def rating_matrix(self) -> sp.csr_matrix:
        return interaction_matrix(self.ratings, self.user_map, self.item_map, values="rating")

    def fingerprint(self) -> str:
        """A short, stable hash of everything a model learns from (for artifact manifests
        and for reusing a published model): the interactions, the lists and the side
        frames (movies, tags, genome, overviews), independent of row order."""
        cols = [c for c in ("user_id", "movie_id", "rating", "timestamp") if c in self.ratings]
        frame = self.ratings[cols].sort_values(cols[:2], kind="stable")
        digest = hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy())
        digest.update(str(sorted((k, sorted(v)) for k, v in self.user_lists.items())).encode())
        for side in (self.movies, self.tags, self.genome_tags, self.genome_scores, self.overviews):
            digest.update(_frame_digest(side))
        if len(self.events):
            ev = self._events().sort_values(["user_id", "movie_id"], kind="stable")
            digest.update(pd.util.hash_pandas_object(ev, index=False).to_numpy().tobytes())
        return digest.hexdigest()[:16]


def _frame_digest(frame: pd.DataFrame) -> bytes:
    """Order-independent hash of a frame's columns and rows (b"" for an empty one)."""
    if frame.empty:
        return b""
    ordered = frame[sorted(frame.columns, key=str)]
    try:
        rows = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    except TypeError:  # unhashable cells (lists): hash their text form
        rows = pd.util.hash_pandas_object(ordered.astype(str), index=False).to_numpy()
    header = ",".join(map(str, ordered.columns)).encode()
    return hashlib.sha256(header + np.sort(rows).tobytes()).digest()
