"""Content-based model: TF-IDF over genres, user tags, genome tags, title and overview.

Each movie is an L2-normalised TF-IDF vector; a user profile is the weighted sum of the
vectors of their list and liked movies (works with a list alone: cold start); scores are
cosine similarities, optionally blended with a small popularity prior.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.registry import register

_WORD = re.compile(r"[^a-z0-9]+")


@dataclass
class ContentParams(base.Params):
    #: Genome tags with relevance at or above this become tokens of the movie.
    genome_threshold: float = 0.5
    #: Weight of log-popularity (0-1 scaled) added to the cosine score.
    popularity_weight: float = 0.05
    recency_half_life: float = 5.0
    max_features: int = 50_000


def _slug(text: str) -> str:
    return _WORD.sub("_", str(text).lower()).strip("_")


def movie_documents(data: TrainData, genome_threshold: float = 0.5) -> list[str]:
    """One text per movie of ``data.item_map``: prefixed tokens per field."""
    ids = data.item_map.ids
    docs: dict[int, list[str]] = {int(m): [] for m in ids}
    if len(data.movies):
        for mid, title, genres in data.movies[["movie_id", "title", "genres"]].itertuples(
            index=False
        ):
            if int(mid) in docs:
                docs[int(mid)].extend(f"g_{_slug(g)}" for g in genres)
                docs[int(mid)].extend(
                    f"w_{w}" for w in _WORD.split(re.sub(r"\(\d{4}\)", "", title.lower())) if w
                )
    if len(data.tags):
        for mid, tag in data.tags[["movie_id", "tag"]].itertuples(index=False):
            if int(mid) in docs:
                docs[int(mid)].append(f"t_{_slug(tag)}")
    if len(data.genome_scores) and len(data.genome_tags):
        names = dict(zip(data.genome_tags["tag_id"], data.genome_tags["tag"], strict=True))
        strong = data.genome_scores[data.genome_scores["relevance"] >= genome_threshold]
        for mid, tid in strong[["movie_id", "tag_id"]].itertuples(index=False):
            if int(mid) in docs:
                docs[int(mid)].append(f"t_{_slug(names.get(tid, tid))}")
    if len(data.overviews):
        for mid, text in data.overviews[["movie_id", "overview"]].itertuples(index=False):
            if int(mid) in docs:
                docs[int(mid)].extend(f"o_{w}" for w in _WORD.split(str(text).lower()) if w)
    return [" ".join(docs[int(m)]) or "empty" for m in ids]


@register
class ContentModel(base.Recommender):
    model_type = "content"
    Params = ContentParams
    params: ContentParams

    def _fit(self, data: TrainData) -> None:
        docs = movie_documents(data, self.params.genome_threshold)
        vec = TfidfVectorizer(
            token_pattern=r"\S+",
            sublinear_tf=True,
            min_df=2,
            max_features=self.params.max_features,
            stop_words=[f"o_{w}" for w in ("the", "a", "an", "of", "and", "to", "in", "his")],
        )
        self.x = normalize(vec.fit_transform(docs).astype(np.float32)).tocsr()
        counts = np.asarray(data.implicit_matrix().sum(axis=0)).ravel()
        logc = np.log1p(counts)
        self.prior = (logc / logc.max() if logc.max() > 0 else logc).astype(np.float32)

    def profiles(self, history: sp.csr_matrix) -> sp.csr_matrix:
        return normalize(history @ self.x)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        sims = np.asarray((self.profiles(history) @ self.x.T).todense(), dtype=np.float32)
        return sims + self.params.popularity_weight * self.prior[None, :]

    def similar(self, movie_id: int, n: int = 10) -> list[tuple[int, float]]:
        """Movies most similar in content to one movie (no popularity prior)."""
        idx = self.items.index([movie_id])[0]
        if idx < 0:
            return []
        sims = np.asarray((self.x[idx] @ self.x.T).todense()).ravel()
        sims[idx] = -np.inf
        top = base.top_n(sims[None, :], n)[0]
        return [(int(self.items.ids[i]), float(sims[i])) for i in top]

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**base.csr_arrays("x", self.x), "prior": self.prior}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.x, self.prior = base.csr_from_arrays("x", arrays), arrays["prior"]
