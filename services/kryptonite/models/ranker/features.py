"""Stage-two features: what stage one knows about each (user, candidate) pair.

Every feature is computed for the candidate set only (never the whole catalog), from the
models stage one already serves: the item-item regression, item-to-item neighbours, the
MF user vector, content similarity to the user's movies, popularity, the user's genre
affinity and release-year taste, plus the candidate's stage-one source and position.
Scores that live on a per-user scale also enter as their rank within the candidate set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from kryptonite.models.content import ContentModel
from kryptonite.models.data import IdMap
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import ImplicitMF
from kryptonite.models.popularity import Popularity

#: Stage-one sources in feature order (their one-hot columns). Values are the proto's
#: ``CandidateSource`` numbers; kept here so the model package does not import the RPC layer.
SOURCE_CODES = (1, 2, 3, 4, 5)  # mf, item2item, content, popular, item_ridge
#: Scores whose scale depends on the user: they also enter as within-set rank.
RANKED = ("ridge", "ridge_flat", "ridge_last", "i2i", "mf", "content")
NAMES = (
    *RANKED,
    *(f"{n}_rank" for n in RANKED),
    "log_pop",
    "pop_pct",
    "genre_affinity",
    "year_gap",
    "year",
    "log_history",
    "position",
    *(f"source_{c}" for c in SOURCE_CODES),
)


@dataclass(frozen=True)
class ItemSide:
    """Per-item facts in one item index: genre matrix (items x genres), year, popularity."""

    genres: sp.csr_matrix
    year: np.ndarray  # float, NaN when unknown
    log_pop: np.ndarray
    pop_pct: np.ndarray

    @classmethod
    def build(cls, items: IdMap, movies: pd.DataFrame, popularity: Popularity) -> ItemSide:
        n = len(items)
        year = np.full(n, np.nan, np.float32)
        rows: list[int] = []
        cols: list[int] = []
        names: dict[str, int] = {}
        if len(movies):
            idx = items.index(movies["movie_id"].to_numpy(np.int64))
            raw_year = movies["year"] if "year" in movies else pd.Series(np.nan, movies.index)
            years = pd.to_numeric(raw_year, errors="coerce").to_numpy(np.float64)
            ok = idx >= 0
            year[idx[ok]] = years[ok]
            for i, genres in zip(idx, movies["genres"], strict=True):
                if i < 0:
                    continue
                for g in genres if isinstance(genres, list | tuple | np.ndarray) else ():
                    rows.append(int(i))
                    cols.append(names.setdefault(str(g), len(names)))
        mat = sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(n, max(len(names), 1))
        )
        pop = _aligned(popularity.item_scores, popularity.items, items)
        order = np.argsort(np.argsort(pop, kind="stable"), kind="stable")
        pct = (order / max(n - 1, 1)).astype(np.float32)
        return cls(mat, year, np.log1p(pop).astype(np.float32), pct)

    def arrays(self) -> dict[str, np.ndarray]:
        g = self.genres.tocsr()
        return {
            "side_g_indptr": g.indptr,
            "side_g_indices": g.indices,
            "side_g_shape": np.asarray(g.shape, np.int64),
            "side_year": self.year,
            "side_log_pop": self.log_pop,
            "side_pop_pct": self.pop_pct,
        }

    @classmethod
    def from_arrays(cls, a: dict[str, np.ndarray]) -> ItemSide:
        indices = a["side_g_indices"]
        genres = sp.csr_matrix(
            (np.ones(len(indices), np.float32), indices, a["side_g_indptr"]),
            shape=tuple(a["side_g_shape"]),
        )
        return cls(genres, a["side_year"], a["side_log_pop"], a["side_pop_pct"])


def _aligned(values: np.ndarray, source: IdMap, target: IdMap) -> np.ndarray:
    """``values`` indexed by ``source`` re-indexed onto ``target`` (0 where missing)."""
    out = np.zeros(len(target), np.float32)
    idx = source.index(target.ids)
    out[idx >= 0] = values[idx[idx >= 0]]
    return out


@dataclass(frozen=True)
class FeatureModels:
    """The stage-one models features are read from; all share ``items``' index."""

    items: IdMap
    ridge: ItemRidge
    i2i: ItemKNN
    mf: ImplicitMF
    content: ContentModel
    side: ItemSide

    def __post_init__(self) -> None:
        for name in ("ridge", "i2i", "mf", "content"):
            model = getattr(self, name)
            if not np.array_equal(model.items.ids, self.items.ids):
                raise ValueError(f"feature model {name} uses another item index")


@dataclass(frozen=True)
class UserQuery:
    """One user's request as stage two sees it (ids are MovieLens movie ids)."""

    user_id: int  # <= 0: not a known user
    history: np.ndarray  # interacted + listed movies, oldest first
    candidates: np.ndarray  # candidate movie ids, stage-one order
    sources: np.ndarray  # stage-one source code of each candidate


def _ordered(ids: np.ndarray, items: IdMap) -> sp.csr_matrix:
    """One-row ordered history (1 = most recent) over ``items``."""
    idx = items.index(ids)
    keep = idx >= 0
    idx = idx[keep]
    order = np.arange(len(ids), 0, -1, dtype=np.float32)[keep]
    uniq, first = np.unique(idx[::-1], return_index=True)  # latest occurrence wins
    values = order[::-1][first]
    return sp.csr_matrix(
        (values, (np.zeros(len(uniq), np.int64), uniq)), shape=(1, len(items)), dtype=np.float32
    )


def _within_rank(x: np.ndarray) -> np.ndarray:
    """Rank in the set, 1 = best, scaled to (0, 1]: 1/(1+rank) style but smooth in n."""
    order = np.argsort(-x, kind="stable")
    ranks = np.empty(len(x), np.float32)
    ranks[order] = np.arange(len(x), dtype=np.float32)
    return (1.0 / (1.0 + ranks)).astype(np.float32)


def features(fm: FeatureModels, q: UserQuery) -> np.ndarray:
    """(len(candidates) x len(NAMES)) feature matrix; unknown candidates get zeros."""
    n = len(q.candidates)
    out = np.zeros((n, len(NAMES)), np.float32)
    cidx = fm.items.index(q.candidates)
    known = cidx >= 0
    ci = cidx.clip(0)
    ordered = _ordered(np.asarray(q.history, np.int64), fm.items)
    uidx = fm.mf.users.index([q.user_id])[0] if q.user_id > 0 else -1
    cols: dict[str, np.ndarray] = {}
    binary = ordered.copy()
    binary.data[:] = 1.0
    support_pos = np.searchsorted(fm.ridge.support, ci)
    in_support = (support_pos < len(fm.ridge.support)) & (
        fm.ridge.support[support_pos.clip(0, len(fm.ridge.support) - 1)] == ci
    )
    sub = fm.ridge.b[:, support_pos[in_support]] if in_support.any() else None
    last = ordered.copy()
    last.data = (last.data == 1.0).astype(np.float32)  # the most recent movie alone
    last.eliminate_zeros()
    # "what next" (recency-weighted history), "what else" (every movie alike) and
    # "what follows the last one"
    views = (
        ("ridge", fm.ridge.prepare_history(ordered)),
        ("ridge_flat", binary),
        ("ridge_last", last),
    )
    for name, hist in views:
        rows = hist[:, fm.ridge.support]
        col = np.zeros(n, np.float32)
        if rows.nnz and sub is not None:
            col[in_support] = np.asarray(rows @ sub).ravel()
        cols[name] = col
    i2i_hist = fm.i2i.prepare_history(ordered)
    cols["i2i"] = np.asarray((i2i_hist @ fm.i2i.sim[:, ci]).todense()).ravel()
    mf_hist = fm.mf.prepare_history(ordered)
    if mf_hist.nnz:
        uvec = fm.mf.fold_in(mf_hist)[0]
    elif uidx >= 0:
        uvec = fm.mf.user_factors[uidx]
    else:
        uvec = np.zeros(fm.mf.item_factors.shape[1], np.float32)
    cols["mf"] = fm.mf.item_factors[ci] @ uvec
    profile = fm.content.profiles(binary)
    cols["content"] = np.asarray((fm.content.x[ci] @ profile.T).todense()).ravel()
    for name in RANKED:
        cols[f"{name}_rank"] = _within_rank(cols[name])
    side = fm.side
    cols["log_pop"] = side.log_pop[ci]
    cols["pop_pct"] = side.pop_pct[ci]
    hist_idx = binary.indices
    user_genres = np.asarray(side.genres[hist_idx].sum(axis=0)).ravel()
    share = user_genres / max(len(hist_idx), 1)
    cand_genres = side.genres[ci]
    per_genre = np.asarray(cand_genres @ share).ravel()
    cols["genre_affinity"] = per_genre / np.maximum(np.diff(cand_genres.indptr), 1)
    hist_years = side.year[hist_idx]
    mean_year = float(np.nanmean(hist_years)) if np.isfinite(hist_years).any() else np.nan
    year = side.year[ci]
    gap = np.abs(year - mean_year) / 20.0
    cols["year_gap"] = np.where(np.isfinite(gap), np.minimum(gap, 3.0), 1.0)
    cols["year"] = np.where(np.isfinite(year), (year - 1990.0) / 20.0, 0.0)
    cols["log_history"] = np.full(n, np.log1p(len(hist_idx)), np.float32)
    cols["position"] = (np.arange(n, dtype=np.float32) / max(n, 1)).astype(np.float32)
    for code in SOURCE_CODES:
        cols[f"source_{code}"] = (q.sources == code).astype(np.float32)
    for j, name in enumerate(NAMES):
        out[:, j] = cols[name]
    out[~known] = 0.0
    return out


def ridge_anchor(fm: FeatureModels, history: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Per candidate, the history movie contributing most to its item-item regression
    score (and to item-to-item similarity where the regression has no weight); 0 if none
    contributes positively. The same similarity that ranks the card explains it."""
    hist = np.asarray(history, np.int64)
    out = np.zeros(len(candidates), np.int64)
    hidx = fm.items.index(hist)
    keep = hidx >= 0
    hist, hidx = hist[keep], hidx[keep]
    if len(hist) == 0 or len(candidates) == 0:
        return out
    cidx = fm.items.index(candidates)
    ci = cidx.clip(0)
    support = fm.ridge.support
    hpos = np.searchsorted(support, hidx)
    h_in = (hpos < len(support)) & (support[hpos.clip(0, len(support) - 1)] == hidx)
    cpos = np.searchsorted(support, ci)
    c_in = (cpos < len(support)) & (support[cpos.clip(0, len(support) - 1)] == ci)
    contrib = np.zeros((len(hist), len(candidates)), np.float32)
    if h_in.any() and c_in.any():
        block = fm.ridge.b[np.ix_(hpos[h_in], cpos[c_in])]
        contrib[np.ix_(np.flatnonzero(h_in), np.flatnonzero(c_in))] = block
    knn = np.asarray(fm.i2i.sim[hidx][:, ci].todense(), np.float32)
    # normalise each similarity to its own scale so neither dominates the other
    for mat in (contrib, knn):
        top = np.abs(mat).max()
        if top > 0:
            mat /= top
    combined = contrib + knn
    best = combined.argmax(axis=0)
    strong = combined[best, np.arange(len(candidates))] > 0
    out[strong & (cidx >= 0)] = hist[best[strong & (cidx >= 0)]]
    return out
