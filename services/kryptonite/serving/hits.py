"""Scored movie lists as numpy arrays, and their conversion to ``ScoredMovie`` messages."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from kryptonite.models.base import top_n
from kryptonite.models.data import IdMap
from kryptonite.reasons import generic_text
from kryptonite.rpc.generated.v1 import common_pb2


@dataclass(frozen=True)
class Hits:
    """Movies best first: ids, scores and the anchor movie explaining each (0: none)."""

    ids: np.ndarray
    scores: np.ndarray
    anchors: np.ndarray

    @classmethod
    def empty(cls) -> Hits:
        return cls(np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.int64))

    def __len__(self) -> int:
        return len(self.ids)


def blocked_mask(items: IdMap, *id_lists: Iterable[int]) -> np.ndarray:
    """Boolean mask over a model's items: True for every id in ``id_lists``."""
    mask = np.zeros(len(items), bool)
    for ids in id_lists:
        idx = items.index(np.fromiter(ids, np.int64))
        mask[idx[idx >= 0]] = True
    return mask


def top_hits(
    scores: np.ndarray, items: IdMap, n: int, blocked: np.ndarray | None = None
) -> np.ndarray:
    """Indices of the ``n`` best finite, unblocked scores (one row), best first."""
    scores = scores.astype(np.float64, copy=True)
    if blocked is not None:
        scores[blocked] = -np.inf
    if n <= 0 or len(scores) == 0:
        return np.empty(0, np.int64)
    top = top_n(scores[None, :], n)[0]
    return top[np.isfinite(scores[top])]


def scored_movies(
    hits: Hits,
    *,
    source: int = common_pb2.CANDIDATE_SOURCE_UNSPECIFIED,
    kind: int = common_pb2.REASON_KIND_UNSPECIFIED,
) -> list[common_pb2.ScoredMovie]:
    """``ScoredMovie`` messages with one source and reason kind for all hits."""
    text = generic_text(kind)
    return [
        common_pb2.ScoredMovie(
            movie_id=int(m),
            score=float(s),
            source=source,
            reason=common_pb2.Reason(kind=kind, anchor_movie_id=int(a), text=text),
        )
        for m, s, a in zip(hits.ids, hits.scores, hits.anchors, strict=True)
    ]
