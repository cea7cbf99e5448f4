"""Neighbours of a movie or of a set of movies, with the seed that explains each, as
:class:`Hits`: used by the content service and the candidates' content source.

Only the model interface is used (``score``, ``history``, ``item_similarity``), so any
model with an item-item relation serves; the anchor of a hit is the seed the model finds
most similar to it — the same similarity that ranked it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kryptonite.models.base import Recommender
from kryptonite.serving.hits import Hits, blocked_mask, top_hits


def similar_movies(model: Recommender, movie_id: int, n: int) -> Hits | None:
    """Movies most similar to ``movie_id`` (no prior); None if the movie is unknown."""
    if model.items.index([movie_id])[0] < 0:
        return None
    similar = model.similar_items([movie_id], n)
    ids = np.asarray([m for m, _ in similar], np.int64)
    scores = np.asarray([s for _, s in similar], np.float32)
    return Hits(ids, scores, np.full(len(ids), movie_id))


def recommend_for_movies(
    model: Recommender, seed_ids: Sequence[int], n: int, exclude: Sequence[int] = ()
) -> Hits:
    """Best movies for the profile of ``seed_ids`` (equal weights; unknown ids ignored);
    each hit's anchor is the seed it is most similar to. Seeds are never returned."""
    seeds = np.asarray(list(seed_ids), np.int64)
    seeds = seeds[model.items.index(seeds) >= 0]
    if len(seeds) == 0:
        return Hits.empty()
    history = model.history(seeds, weights=[1.0] * len(seeds))
    scores = model.score(np.array([-1]), history)[0]
    top = top_hits(scores, model.items, n, blocked_mask(model.items, seeds, exclude))
    hit_ids = model.items.ids[top]
    per_seed = model.item_similarity(seeds, hit_ids)  # seeds x hits
    anchors = seeds[per_seed.argmax(axis=0)] if len(top) else np.empty(0, np.int64)
    return Hits(hit_ids, scores[top].astype(np.float32), anchors)
