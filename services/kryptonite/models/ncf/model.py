"""NCF as a ``Recommender``: fit, vectorized scoring, fold-in, save/load (npz weights)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from kryptonite.models import base
from kryptonite.models.data import TrainData
from kryptonite.models.ncf import data as ncf_data
from kryptonite.models.ncf.module import NeuMF
from kryptonite.models.ncf.train import TrainStats, device, train
from kryptonite.models.registry import register


@dataclass
class NCFParams(base.Params):
    kind: str = "neumf"  # gmf | mlp | neumf
    task: str = "implicit"  # implicit (BCE + negatives) | explicit (rating MSE)
    factors: int = 32
    layers: list[int] = field(default_factory=lambda: [64, 32, 16])
    epochs: int = 8
    batch_size: int = 4096
    lr: float = 3e-3
    weight_decay: float = 0.0
    negatives: int = 4
    #: Positives weigh 1 + recency_boost * 0.5 ** (age_in_interactions / half_life);
    #: half-life 0 = every positive weighs 1 (the paper's setting).
    recency_half_life: float = 0.0
    recency_boost: float = 4.0
    fold_in_steps: int = 50
    seed: int = 42
    threads: int = 2


@register
class NCF(base.Recommender):
    model_type = "ncf"
    Params = NCFParams
    params: NCFParams
    stats: TrainStats | None = None
    #: Called after each training epoch with (epoch, epochs, mean loss), e.g. for a bar.
    on_epoch: Callable[[int, int, float], None] | None = None

    def __init__(self, params: base.Params | None = None, **overrides: Any) -> None:
        super().__init__(params, **overrides)
        self._fold_in_lock = threading.Lock()  # fold-in backpropagates through the module

    def _module(self) -> NeuMF:
        p = self.params
        return NeuMF(len(self.users), len(self.items), p.factors, tuple(p.layers), p.kind)

    def _fit(self, data: TrainData) -> None:
        p = self.params
        torch.set_num_threads(p.threads)
        torch.manual_seed(p.seed)
        self.module = self._module()
        if p.task == "implicit":
            matrix, offset = data.implicit_matrix(), 0.0
            if p.recency_half_life > 0:
                matrix = data.ordered_matrix()
                matrix.data = 1.0 + p.recency_boost * 0.5 ** (
                    (matrix.data - 1.0) / p.recency_half_life
                )
        else:
            matrix = data.rating_matrix()
            offset = float(matrix.data.mean()) if matrix.nnz else 0.0
        self.rating_offset = offset
        self.stats = train(
            self.module,
            matrix,
            task=p.task,
            epochs=p.epochs,
            batch_size=p.batch_size,
            lr=p.lr,
            weight_decay=p.weight_decay,
            n_neg=p.negatives,
            seed=p.seed,
            rating_offset=offset,
            on_epoch=self._epoch_done,
        )

    def _epoch_done(self, epoch: int, mean_loss: float) -> None:
        if self.on_epoch is not None:
            self.on_epoch(epoch + 1, self.params.epochs, mean_loss)

    # ------------------------------------------------------------------ scoring
    @torch.inference_mode()
    def _score_vectors(self, user_vecs: list[torch.Tensor]) -> np.ndarray:
        n_users, n_items = user_vecs[0].shape[0], len(self.items)
        items = torch.arange(n_items, device=user_vecs[0].device)
        out = np.empty((n_users, n_items), np.float32)
        step = max(1, 2_000_000 // max(n_items, 1))
        for start in range(0, n_users, step):
            vecs = [v[start : start + step] for v in user_vecs]
            b = vecs[0].shape[0]
            expanded = [v[:, None, :].expand(b, n_items, v.shape[1]) for v in vecs]
            logits = self.module.forward_with(expanded, items[None, :].expand(b, n_items))
            out[start : start + b] = (logits + self.rating_offset).float().cpu().numpy()
        return out

    def score(self, users: np.ndarray, history: sp.csr_matrix) -> np.ndarray:
        """Scores for known users; unknown users are folded in from their history
        (zeros when they have none: callers should fall back to another model)."""
        dev = next(self.module.parameters()).device
        tables = self.module.user_embeddings()
        idx = torch.from_numpy(np.clip(users, 0, None)).to(dev)
        with torch.no_grad():
            vecs = [t(idx).clone() for t in tables]
        unknown = np.flatnonzero(users < 0)
        if len(unknown):
            folded = self.fold_in(history[unknown])
            for v, f in zip(vecs, folded, strict=True):
                v[torch.from_numpy(unknown).to(dev)] = f
        out = self._score_vectors(vecs)
        out[unknown[np.diff(history[unknown].indptr) == 0]] = 0.0
        return out

    def rank_items(
        self, user_id: int | None, movie_ids: list[int] | np.ndarray, history_ids=()
    ) -> np.ndarray | None:
        """Logits of the given movies only (NaN for unknown movies): a known user's
        trained vectors, else a fold-in of ``history_ids``; None when there is neither."""
        uidx = int(self.users.index([user_id])[0]) if user_id is not None else -1
        if uidx >= 0:
            vecs = [t.weight[uidx : uidx + 1].detach() for t in self.module.user_embeddings()]
        else:
            history = self.history(history_ids)
            if history.nnz == 0:
                return None
            with self._fold_in_lock:
                vecs = self.fold_in(history)
        idx = self.items.index(movie_ids)
        known = np.flatnonzero(idx >= 0)
        out = np.full(len(idx), np.nan, np.float32)
        if len(known):
            dev = next(self.module.parameters()).device
            items = torch.from_numpy(idx[known]).to(dev)
            with torch.inference_mode():
                user = [v.to(dev).expand(len(known), -1) for v in vecs]
                out[known] = self.module.forward_with(user, items).float().cpu().numpy()
        return out

    @torch.inference_mode()
    def predict(self, user_ids: np.ndarray, movie_ids: np.ndarray) -> np.ndarray:
        """Pointwise outputs (ratings for the explicit task); unknown ids get the offset."""
        u, i = self.users.index(user_ids), self.items.index(movie_ids)
        ok = (u >= 0) & (i >= 0)
        out = np.full(len(u), self.rating_offset, np.float64)
        dev = next(self.module.parameters()).device
        for start in range(0, int(ok.sum()), 65536):
            sel = np.flatnonzero(ok)[start : start + 65536]
            uu = torch.from_numpy(u[sel]).to(dev)
            ii = torch.from_numpy(i[sel]).to(dev)
            out[sel] = self.module(uu, ii).float().cpu().numpy() + self.rating_offset
        if self.params.task == "explicit":
            out = np.clip(out, 0.5, 5.0)
        return out

    def fold_in(self, history: sp.csr_matrix) -> list[torch.Tensor]:
        """New user vectors fitted to their history with the item side frozen."""
        p = self.params
        dev = next(self.module.parameters()).device
        tables = self.module.user_embeddings()
        n = history.shape[0]
        vecs = [
            t.weight.detach().mean(0, keepdim=True).repeat(n, 1).clone().requires_grad_(True)
            for t in tables
        ]
        coo = history.tocoo()
        if coo.nnz == 0:
            return [v.detach() for v in vecs]
        rng = np.random.default_rng(p.seed)
        opt = torch.optim.Adam(vecs, lr=0.05)
        rows = np.concatenate([coo.row, np.repeat(coo.row, p.negatives)])
        labels = torch.from_numpy(
            np.concatenate([np.ones(coo.nnz), np.zeros(coo.nnz * p.negatives)]).astype(np.float32)
        ).to(dev)
        r = torch.from_numpy(rows.astype(np.int64)).to(dev)
        for _ in range(p.fold_in_steps):
            neg = ncf_data.sample_negatives(history, coo.row, p.negatives, rng)
            items = torch.from_numpy(np.concatenate([coo.col, neg]).astype(np.int64)).to(dev)
            opt.zero_grad()
            logits = self.module.forward_with([v[r] for v in vecs], items)
            torch.nn.functional.binary_cross_entropy_with_logits(logits, labels).backward()
            opt.step()
        return [v.detach() for v in vecs]

    # ------------------------------------------------------------------ persistence
    def _arrays(self) -> dict[str, np.ndarray]:
        state = {f"sd.{k}": v.detach().cpu().numpy() for k, v in self.module.state_dict().items()}
        return {**state, "rating_offset": np.asarray(self.rating_offset)}

    def _load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        self.rating_offset = float(arrays.pop("rating_offset"))
        self.module = self._module()
        state = {k[3:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("sd.")}
        self.module.load_state_dict(state)
        self.module.to(device()).eval()
