"""Content-based model: what movies are (genres, tags, genome, overview) plus co-watching.

Each field is its own TF-IDF block, L2-normalised and weighted; co-watching is a block of
the movie's low-rank co-occurrence embedding (truncated SVD of the normalised
movies x users matrix). The blocks are stacked and normalised again, so the cosine of two
movies is the weighted mean of their per-field cosines. Title words carry no weight by
default: "Finding Nemo" is not like "Finding Forrester".

A user profile is the weighted sum of the vectors of their list and liked movies (works
with a list alone: cold start); scores are cosine similarities, optionally blended with a
small popularity prior.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.registry import register

_WORD = re.compile(r"[^a-z0-9]+")
#: Overview words that say nothing about a movie.
_STOP = (
    "the a an of and to in his her he she they their is are on for with by as at from that "
    "this it its who when after into be but or has have one two out up an all not"
).split()
FIELDS = ("genre", "tag", "overview", "title")
#: MovieLens "genres" that say how a movie was released, not what it is.
_FORMATS = {"imax"}


@dataclass
class ContentParams(base.Params):
    #: Genome tags with relevance at or above this become tokens of the movie.
    genome_threshold: float = 0.5
    #: Weight of log-popularity (0-1 scaled) added to the cosine score.
    popularity_weight: float = 0.05
    recency_half_life: float = 5.0
    max_features: int = 50_000
    #: Weights of the blocks in the similarity (relative; 0 drops a block).
    genre_weight: float = 1.0
    tag_weight: float = 1.0
    overview_weight: float = 0.5
    title_weight: float = 0.0
    cowatch_weight: float = 1.0
    #: Dimensions of the co-watching embedding.
    cowatch_factors: int = 64


def _slug(text: str) -> str:
    return _WORD.sub("_", str(text).lower()).strip("_")


def field_documents(data: TrainData, genome_threshold: float = 0.5) -> dict[str, list[str]]:
    """Per field, one text per movie of ``data.item_map`` (space-separated tokens)."""
    ids = data.item_map.ids
    docs: dict[str, dict[int, list[str]]] = {f: {int(m): [] for m in ids} for f in FIELDS}
    if len(data.movies):
        for mid, title, genres in data.movies[["movie_id", "title", "genres"]].itertuples(
            index=False
        ):
            if int(mid) in docs["genre"]:
                docs["genre"][int(mid)].extend(_slug(g) for g in genres if _slug(g) not in _FORMATS)
                words = _WORD.split(re.sub(r"\(\d{4}\)", "", str(title).lower()))
                docs["title"][int(mid)].extend(w for w in words if w)
    if len(data.tags):
        for mid, tag in data.tags[["movie_id", "tag"]].itertuples(index=False):
            if int(mid) in docs["tag"]:
                docs["tag"][int(mid)].append(_slug(tag))
    if len(data.genome_scores) and len(data.genome_tags):
        names = dict(zip(data.genome_tags["tag_id"], data.genome_tags["tag"], strict=True))
        strong = data.genome_scores[data.genome_scores["relevance"] >= genome_threshold]
        for mid, tid in strong[["movie_id", "tag_id"]].itertuples(index=False):
            if int(mid) in docs["tag"]:
                docs["tag"][int(mid)].append(_slug(names.get(tid, tid)))
    if len(data.overviews):
        for mid, text in data.overviews[["movie_id", "overview"]].itertuples(index=False):
            if int(mid) in docs["overview"]:
                docs["overview"][int(mid)].extend(w for w in _WORD.split(str(text).lower()) if w)
    return {f: [" ".join(docs[f][int(m)]) for m in ids] for f in FIELDS}


def movie_documents(data: TrainData, genome_threshold: float = 0.5) -> list[str]:
    """One text per movie with every field's tokens prefixed (``g_``, ``t_``, ``o_``, ``w_``)."""
    per_field = field_documents(data, genome_threshold)
    prefixed = [
        [" ".join(f"{f[0]}_{w}" for w in doc.split()) for doc in per_field[f]] for f in FIELDS
    ]
    return [" ".join(p for p in parts if p) or "empty" for parts in zip(*prefixed, strict=True)]


def _tfidf_block(docs: list[str], max_features: int, stop: list[str] | None) -> sp.csr_matrix:
    """Row-normalised TF-IDF of ``docs``; all zeros when the field has no shared words."""
    if not any(docs):
        return sp.csr_matrix((len(docs), 0), dtype=np.float32)
    vec = TfidfVectorizer(
        token_pattern=r"\S+",
        sublinear_tf=True,
        min_df=2,
        max_features=max_features,
        stop_words=stop,
    )
    try:
        return normalize(vec.fit_transform(docs).astype(np.float32)).tocsr()
    except ValueError:  # empty vocabulary (every word appears once)
        return sp.csr_matrix((len(docs), 0), dtype=np.float32)


def _cowatch_block(implicit: sp.csr_matrix, factors: int) -> sp.csr_matrix:
    """Row-normalised low-rank embedding of each movie's audience (movies x factors)."""
    items_users = normalize(implicit.T.tocsr().astype(np.float32))
    k = min(factors, min(items_users.shape) - 1)
    if k < 1 or items_users.nnz == 0:
        return sp.csr_matrix((implicit.shape[1], 0), dtype=np.float32)
    emb = TruncatedSVD(n_components=k, random_state=0).fit_transform(items_users)
    return sp.csr_matrix(normalize(emb).astype(np.float32))


@register
class ContentModel(base.Recommender):
    model_type = "content"
    Params = ContentParams
    params: ContentParams

    def _fit(self, data: TrainData) -> None:
        p = self.params
        per_field = field_documents(data, p.genome_threshold)
        implicit = data.implicit_matrix()
        blocks = [
            (p.genre_weight, lambda: _tfidf_block(per_field["genre"], p.max_features, None)),
            (p.tag_weight, lambda: _tfidf_block(per_field["tag"], p.max_features, None)),
            (
                p.overview_weight,
                lambda: _tfidf_block(per_field["overview"], p.max_features, _STOP),
            ),
            (p.title_weight, lambda: _tfidf_block(per_field["title"], p.max_features, None)),
            (p.cowatch_weight, lambda: _cowatch_block(implicit, p.cowatch_factors)),
        ]
        parts = [np.float32(np.sqrt(w)) * make() for w, make in blocks if w > 0]
        parts = [b for b in parts if b.shape[1]] or [sp.csr_matrix((len(self.items), 1))]
        self.x = normalize(sp.hstack(parts, format="csr").astype(np.float32)).tocsr()
        counts = np.asarray(implicit.sum(axis=0)).ravel()
        logc = np.log1p(counts)
        self.prior = (logc / logc.max() if logc.max() > 0 else logc).astype(np.float32)

    def profiles(self, history: sp.csr_matrix) -> sp.csr_matrix:
        return normalize(history @ self.x)

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        sims = np.asarray((self.profiles(history) @ self.x.T).todense(), dtype=np.float32)
        return sims + self.params.popularity_weight * self.prior[None, :]

    def _item_block(self, rows: np.ndarray, cols: np.ndarray | None) -> np.ndarray:
        """Cosine of the movies' TF-IDF rows (no popularity prior)."""
        return (self.x[rows] @ (self.x if cols is None else self.x[cols]).T).toarray()

    def _arrays(self) -> dict[str, np.ndarray]:
        return {**base.csr_arrays("x", self.x), "prior": self.prior}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.x, self.prior = base.csr_from_arrays("x", arrays), arrays["prior"]
