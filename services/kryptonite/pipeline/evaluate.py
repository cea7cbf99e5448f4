"""Evaluation job: two ranking protocols, model selection on both, intervals, paired tests.

* **leave_last_out** ("what next"): per user the last interaction is test, the one before
  validation; full ranking over all unseen items.
* **random_75_25** ("what else"): per user a seeded random 25% of interactions is test,
  and 25% of the rest is validation; ranking over all unseen items.
* **random_75_25_ml100k_style**: the same on an ML-100k-shaped subset (1,682 most-rated
  movies, users with >= 20 of them), measured with the settings chosen on the two above.

Every model (ours and the external baselines) tries each configuration of its grid on the
validation rows of both protocols and keeps the one with the best mean relative NDCG@10
(its NDCG divided by the grid's best, averaged over the protocols), then is refitted per
protocol and measured once on test. Extra rankers (``scorers.RankerFactory``, e.g. the
served two-stage pipeline) run on the same splits with their own settings. Every metric
gets a per-user bootstrap 95% interval; every entry is compared with the best single model
(paired bootstrap + Wilcoxon). metrics.json / metrics.md are rewritten after each entry,
and an entry that fails is recorded under ``errors`` without stopping the run.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from kryptonite.models.base import Recommender
from kryptonite.models.content import ContentModel
from kryptonite.models.data import IdMap, TrainData
from kryptonite.models.evaluation import protocols, report, splits, stats
from kryptonite.models.evaluation.baselines import EASE, ImplicitALS, ImplicitBM25
from kryptonite.models.evaluation.scorers import CandidateSource, ModelRanker, RankerFactory
from kryptonite.models.item2item import ItemKNN, ItemRidge
from kryptonite.models.mf import BiasBaseline, ImplicitMF
from kryptonite.models.ncf.model import NCF
from kryptonite.models.popularity import Popularity
from kryptonite.pipeline.train import production_models

log = logging.getLogger(__name__)

Factory = Callable[[], Recommender]
LLO, RANDOM, ML100K = "leave_last_out", "random_75_25", "random_75_25_ml100k_style"
PRIMARY = "ndcg@10"
CANDIDATE_NS = (100, 300)
HEARTBEAT_SECONDS = 10.0


def candidate_grids(seed: int = 42, quick: bool = False) -> dict[str, list[Factory]]:
    """Per model, the configurations tried on validation (first = production default).

    Each of our recency-weighted models is also tried without recency weights, so the
    choice is made for both protocols, not for leave-last-out alone.
    """
    prod = production_models(seed)
    grids: dict[str, list[Factory]] = {name: [f] for name, f in prod.items()}
    grids.pop("mf_explicit")  # rating model: evaluated by RMSE/MAE below
    grids.pop("ranker")  # stage two ranks stage one's candidates: the `served` entry
    grids["content"].append(lambda: ContentModel(popularity_weight=0.5, recency_half_life=0.0))
    grids["item2item"].append(lambda: ItemKNN(alpha=0.7, shrink=10.0, recency_half_life=0.0))
    # l2 300 without recency was tried too: within 0.002 NDCG@10 of l2 100 on both protocols
    grids["item_ridge"].append(lambda: ItemRidge(l2=100.0, recency_half_life=0.0, min_count=2))
    grids["mf_implicit"].append(lambda: ImplicitMF(alpha=10.0, recency_half_life=0.0, seed=seed))
    grids["baseline_als"] = [
        lambda f=f, r=r: ImplicitALS(factors=f, regularization=r, alpha=10.0, seed=seed)
        for f in (64, 128)
        for r in (0.05, 0.5)
    ]
    grids["baseline_bm25"] = [lambda k=k: ImplicitBM25(neighbours=k) for k in (50, 200)]
    grids["ncf"].append(lambda: NCF(seed=seed))  # the paper's setting: no recency weights
    grids["ease"] = [lambda: EASE(l2=100.0)]  # l2 in {100, 300, 1000} tried: docs/models.md
    if not quick:
        grids["popularity"].append(lambda: Popularity(half_life_days=180.0))
    return grids


@dataclass
class Fold:
    """Training rows, the ordered history a scorer may see, and the held-out rows."""

    train: TrainData
    history: sp.csr_matrix
    held_out: pd.DataFrame


@dataclass
class Protocol:
    name: str
    description: str
    select: Fold  # validation (model selection)
    final: Fold  # test
    selection: bool = True  # False: only measured with the settings chosen on the others


@contextmanager
def heartbeat(label: str, enabled: bool, every: float = HEARTBEAT_SECONDS) -> Iterator[None]:
    """Log "<label> ... N s" every ``every`` seconds while the block runs."""
    stop = threading.Event()
    start = time.perf_counter()

    def beat() -> None:
        while not stop.wait(every):
            tqdm.write(
                f"evaluate: {label} ... {time.perf_counter() - start:.0f} s", file=sys.stderr
            )

    thread = threading.Thread(target=beat, daemon=True) if enabled else None
    if thread:
        thread.start()
    try:
        yield
    finally:
        stop.set()
        if thread:
            thread.join()


def build_protocols(data: TrainData, seed: int, ml100k: bool = True) -> list[Protocol]:
    """Both splits over one shared user/item index (+ the ML-100k-style check)."""
    ratings = data.ratings
    users = IdMap.from_ids(ratings["user_id"].to_numpy())

    def fold(
        train: pd.DataFrame, held_out: pd.DataFrame, u: IdMap = users, i: IdMap | None = None
    ) -> Fold:
        items = i or data.item_map
        keep = data.movies["movie_id"].isin(items.ids) if len(data.movies) else slice(None)
        td = TrainData(
            train,
            movies=data.movies[keep] if len(data.movies) else data.movies,
            tags=data.tags,
            genome_tags=data.genome_tags,
            genome_scores=data.genome_scores,
            overviews=data.overviews,
            users=u,
            items=items,
        )
        return Fold(td, td.ordered_matrix(), held_out)

    llo = splits.leave_last_out(ratings)
    rnd = splits.random_per_user(ratings, 0.25, seed)
    inner = splits.random_per_user(rnd.train, 0.25, seed + 1)
    out = [
        Protocol(
            LLO,
            "temporal leave-last-out, full ranking over all unseen items",
            fold(llo.train, llo.validation),
            fold(llo.train_val, llo.test),
        ),
        Protocol(
            RANDOM,
            "seeded random 25% of each user's interactions held out (users with >= 4), "
            "ranking over all unseen items; validation = 25% of the remaining train",
            fold(inner.train, inner.test),
            fold(rnd.train, rnd.test),
        ),
    ]
    small = splits.ml100k_style(ratings)
    if ml100k and len(small):
        s = splits.random_per_user(small, 0.25, seed)
        u, i = IdMap.from_ids(small["user_id"]), IdMap.from_ids(small["movie_id"])
        final = fold(s.train, s.test, u, i)
        out.append(
            Protocol(
                ML100K,
                "random_75_25 on an ML-100k-shaped subset of the data (the 1,682 most-rated "
                "movies, users with >= 20 ratings of them); settings chosen on the two "
                "protocols above; compare with published ML-100k figures with care",
                final,
                final,
                selection=False,
            )
        )
    return out


def measure(scorer: Recommender | Any, proto: Protocol, fold: Fold) -> protocols.PerUser:
    """Per-user metrics of a fitted model or a ranker on one fold of a protocol."""
    users, items = fold.train.user_map, fold.train.item_map
    if proto.name == LLO:
        if isinstance(scorer, Recommender):
            return protocols.full_ranking_per_user(scorer, fold.history, fold.held_out)
        return protocols.leave_last_out_lists(scorer, fold.history, fold.held_out, users, items)
    ranker = ModelRanker(scorer) if isinstance(scorer, Recommender) else scorer
    return protocols.random_holdout(ranker, fold.history, fold.held_out, users, items)


def candidate_recall(scorer: Any, fold: Fold) -> protocols.PerUser | None:
    source = ModelRanker(scorer) if isinstance(scorer, Recommender) else scorer
    if not isinstance(source, CandidateSource):
        return None
    users, items = fold.train.user_map, fold.train.item_map
    return protocols.candidate_recall(
        source, fold.history, fold.held_out, users, items, ns=CANDIDATE_NS
    )


def select(grid_scores: list[dict[str, float]]) -> tuple[int, list[float]]:
    """Index of the candidate with the best mean relative NDCG@10 over the protocols."""
    names = list(grid_scores[0]) if grid_scores else []
    best = {p: max(s[p] for s in grid_scores) for p in names}
    rel = [
        sum(s[p] / best[p] if best[p] > 0 else 0.0 for p in names) / max(len(names), 1)
        for s in grid_scores
    ]
    return max(range(len(rel)), key=lambda i: (rel[i], -i)), rel


class Run:
    """Accumulates per-user results and rewrites the report after each entry."""

    def __init__(
        self, dataset: str, protos: list[Protocol], out: Path | None, seed: int, n_boot: int
    ) -> None:
        self.protos, self.out, self.seed, self.n_boot = protos, out, seed, n_boot
        self.per_user: dict[str, dict[str, protocols.PerUser]] = {p.name: {} for p in protos}
        self.single: set[str] = set()
        self.result: dict[str, Any] = {
            "dataset": dataset,
            "protocol": protos[0].description,
            "models": {},
            "validation": {},
            "sampled": {},
            "selected_params": {},
            "selection": "per model, the grid candidate with the best mean over both "
            "protocols of validation NDCG@10 / the grid's best validation NDCG@10",
            "bootstrap": {"resamples": n_boot, "seed": seed, "level": stats.LEVEL},
            "protocols": {
                p.name: {
                    "description": p.description,
                    "test": {},
                    "candidate_recall": {},
                    "best_single": None,
                    "paired": {},
                }
                for p in protos
            },
            "grid": {},
            "errors": {},
            "seconds": {},  # wall time of each entry: grid, refits, scoring
        }

    def add(self, name: str, proto: Protocol, per_user: protocols.PerUser, single: bool) -> None:
        self.per_user[proto.name][name] = per_user
        if single:
            self.single.add(name)
        summary = stats.summarize(per_user.values, n_boot=self.n_boot, seed=self.seed)
        for key, value in per_user.aggregate.items():
            summary[key] = {"mean": value}
        self.result["protocols"][proto.name]["test"][name] = summary

    def add_recall(self, name: str, proto: Protocol, per_user: protocols.PerUser | None) -> None:
        if per_user is not None:
            summary = stats.summarize(per_user.values, n_boot=self.n_boot, seed=self.seed)
            self.result["protocols"][proto.name]["candidate_recall"][name] = summary

    def compare(self) -> None:
        """Paired comparison of every entry with the best single model, per protocol."""
        for proto in self.protos:
            entries = self.per_user[proto.name]
            singles = {n: e for n, e in entries.items() if n in self.single}
            section = self.result["protocols"][proto.name]
            if not singles:
                continue
            best = max(singles, key=lambda n: singles[n].values[PRIMARY].mean())
            section["best_single"], section["paired"] = best, {}
            ref = singles[best]
            for name, entry in entries.items():
                if name == best or len(entry.users) != len(ref.users):
                    continue
                if (entry.users != ref.users).any():
                    continue
                section["paired"][name] = {
                    m: stats.paired_comparison(
                        entry.values[m], ref.values[m], n_boot=self.n_boot, seed=self.seed
                    )
                    for m in entry.values
                    if m in ref.values
                }

    def fail(self, name: str, exc: BaseException) -> None:
        log.error("evaluate: %s failed\n%s", name, traceback.format_exc())
        tqdm.write(f"evaluate: {name} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        self.result["errors"][name] = f"{type(exc).__name__}: {exc}"

    def write(self, plots: bool = False) -> None:
        self.compare()
        if self.out is not None:
            report.write_report(self.result, self.out, plots=plots)


def _fit(
    factory: Factory, data: TrainData, label: str, progress: bool
) -> tuple[Recommender, float]:
    start = time.perf_counter()
    with heartbeat(f"fitting {label}", progress):
        model = factory().fit(data)
    return model, time.perf_counter() - start


def _evaluate_model(
    run: Run, name: str, candidates: list[Factory], seed: int, progress: bool
) -> None:
    protos = run.protos
    scores: list[dict[str, float]] = []
    vals: list[dict[str, dict[str, float]]] = []
    params: list[dict[str, Any]] = []
    for c, factory in enumerate(candidates):
        row, val_row = {}, {}
        for proto in [p for p in protos if p.selection]:
            label = f"{name} candidate {c + 1}/{len(candidates)} on {proto.name} validation"
            model, _ = _fit(factory, proto.select.train, label, progress)
            val = measure(model, proto, proto.select).means()
            row[proto.name], val_row[proto.name] = val[PRIMARY], val
        scores.append(row)
        vals.append(val_row)
        params.append(model.params.to_dict())
    best, rel = select(scores)
    run.result["grid"][name] = [
        {"params": p, "validation_ndcg@10": s, "relative": round(r, 4), "selected": i == best}
        for i, (p, s, r) in enumerate(zip(params, scores, rel, strict=True))
    ]
    run.result["validation"][name] = vals[best][LLO]
    run.result["selected_params"][name] = params[best]
    for proto in protos:
        model, seconds = _fit(
            candidates[best], proto.final.train, f"{name} on {proto.name}", progress
        )
        with heartbeat(f"scoring {name} on {proto.name}", progress):
            per_user = measure(model, proto, proto.final)
            run.add(name, proto, per_user, single=True)
            run.add_recall(name, proto, candidate_recall(model, proto.final))
        if proto.name == LLO:
            run.result["models"][name] = {**per_user.means(), "fit_seconds": round(seconds, 3)}
            fold = proto.final
            run.result["sampled"][name] = protocols.sampled_ranking(
                model, fold.history, fold.held_out, seed=seed
            )


def _evaluate_ranker(run: Run, name: str, factory: RankerFactory, progress: bool) -> None:
    for proto in run.protos:
        start = time.perf_counter()
        with heartbeat(f"building {name} on {proto.name}", progress):
            ranker = factory(proto.final.train)
        seconds = time.perf_counter() - start
        with heartbeat(f"scoring {name} on {proto.name}", progress):
            per_user = measure(ranker, proto, proto.final)
            run.add(name, proto, per_user, single=False)
            run.add_recall(name, proto, candidate_recall(ranker, proto.final))
        if proto.name == LLO:
            run.result["models"][name] = {**per_user.means(), "fit_seconds": round(seconds, 3)}


def evaluate(
    data: TrainData,
    *,
    dataset: str,
    out: Path | None = None,
    seed: int = 42,
    grids: dict[str, list[Factory]] | None = None,
    rankers: Mapping[str, RankerFactory] | None = None,
    progress: bool = True,
    n_boot: int = stats.N_BOOT,
    rating_models: bool = True,
    ml100k_check: bool = True,
) -> dict[str, Any]:
    """Run every protocol; write metrics.json/metrics.md (after each entry) and PNGs.

    ``rankers``: extra entries that are not ``Recommender`` models, e.g. the served
    pipeline: ``{"served": lambda train: MyRanker(train)}`` (see ``scorers.py``); each is
    built once per protocol from that protocol's training rows.
    ``ml100k_check``: also measure the chosen settings on an ML-100k-shaped subset.
    """
    protos = build_protocols(data, seed, ml100k=ml100k_check)
    run = Run(dataset, protos, out, seed, n_boot)
    grids = grids or candidate_grids(seed)
    entries = [(n, g, None) for n, g in grids.items()]
    entries += [(n, None, f) for n, f in (rankers or {}).items()]
    bar = tqdm(entries, desc="evaluate", unit="entry", disable=not progress)
    for name, grid, factory in bar:
        bar.set_postfix_str(name)
        started = time.perf_counter()
        try:
            if grid is not None:
                _evaluate_model(run, name, grid, seed, progress)
            else:
                _evaluate_ranker(run, name, factory, progress)
        except Exception as exc:  # one failing entry must not lose the rest
            run.fail(name, exc)
        run.result["seconds"][name] = round(time.perf_counter() - started, 1)
        run.write()
    if rating_models:
        _rating_models(run, data, seed, progress)
    run.write(plots=True)
    return run.result


def _rating_models(run: Run, data: TrainData, seed: int, progress: bool) -> None:
    ratings = data.ratings
    users = IdMap.from_ids(ratings["user_id"].to_numpy())
    run.result["rating_protocol"] = "seeded random 80/20 split of ratings"
    tr, te = splits.random_split(ratings, 0.2, seed)
    factories: dict[str, Factory] = {
        "bias_baseline": lambda: BiasBaseline(reg=5.0),
        "mf_explicit": production_models(seed)["mf_explicit"],
        "ncf_explicit": lambda: NCF(task="explicit", kind="neumf", epochs=8, seed=seed),
    }
    train = TrainData(tr, users=users, items=data.item_map)
    for name, factory in factories.items():
        try:
            model, seconds = _fit(factory, train, name, progress)
            errors = protocols.rating_error(model, te)
            row = run.result["models"].setdefault(name, {})
            row.update({**errors, "fit_seconds": round(seconds, 3)})
        except Exception as exc:  # recorded, the run goes on
            run.fail(name, exc)
        run.write()
