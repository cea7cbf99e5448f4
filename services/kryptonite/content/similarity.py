"""Content neighbours of a movie or of a set of movies, with the seed that explains each.

Thin adapter over :class:`kryptonite.models.content.ContentModel` (its TF-IDF matrix
``x`` and ``score``); used by the content service and the candidates' content source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from kryptonite.models.content import ContentModel
from kryptonite.rpc.hits import Hits, blocked_mask, top_hits


def similar_movies(model: ContentModel, movie_id: int, n: int) -> Hits | None:
    """Movies most similar to ``movie_id`` (cosine, no prior); None if the movie is unknown."""
    idx = int(model.items.index([movie_id])[0])
    if idx < 0:
        return None
    sims = np.asarray((model.x[idx] @ model.x.T).todense()).ravel()
    blocked = np.zeros(len(sims), bool)
    blocked[idx] = True
    top = top_hits(sims, model.items, n, blocked)
    return Hits(model.items.ids[top], sims[top].astype(np.float32), np.full(len(top), movie_id))


def recommend_for_movies(
    model: ContentModel, seed_ids: Sequence[int], n: int, exclude: Sequence[int] = ()
) -> Hits:
    """Best movies for the profile of ``seed_ids`` (equal weights; unknown ids ignored);
    each hit's anchor is the seed it is most similar to. Seeds are never returned."""
    seeds = np.asarray(list(seed_ids), np.int64)
    seed_idx = model.items.index(seeds)
    seeds, seed_idx = seeds[seed_idx >= 0], seed_idx[seed_idx >= 0]
    if len(seeds) == 0:
        return Hits.empty()
    history = model.history(seeds, weights=[1.0] * len(seeds))
    scores = model.score(np.array([-1]), history)[0]
    top = top_hits(scores, model.items, n, blocked_mask(model.items, seeds, exclude))
    per_seed = np.asarray((model.x[seed_idx] @ model.x[top].T).todense())  # seeds x hits
    anchors = seeds[per_seed.argmax(axis=0)] if len(top) else np.empty(0, np.int64)
    return Hits(model.items.ids[top], scores[top].astype(np.float32), anchors)
