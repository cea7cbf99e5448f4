"""GMF, MLP and NeuMF modules: forward passes only."""

from __future__ import annotations

import torch
from torch import nn


class NeuMF(nn.Module):
    """NeuMF = GMF (element-wise product) + MLP tower, fused by one linear layer.

    ``kind`` "gmf" or "mlp" keeps only that branch (the paper's ablations).
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        factors: int = 32,
        layers: tuple[int, ...] = (64, 32, 16),
        kind: str = "neumf",
    ) -> None:
        super().__init__()
        if kind not in ("gmf", "mlp", "neumf"):
            raise ValueError(f"unknown NCF kind {kind!r}")
        self.kind = kind
        self.use_gmf, self.use_mlp = kind in ("gmf", "neumf"), kind in ("mlp", "neumf")
        width = 0
        if self.use_gmf:
            self.gmf_user = nn.Embedding(n_users, factors)
            self.gmf_item = nn.Embedding(n_items, factors)
            width += factors
        if self.use_mlp:
            self.mlp_user = nn.Embedding(n_users, layers[0] // 2)
            self.mlp_item = nn.Embedding(n_items, layers[0] // 2)
            tower: list[nn.Module] = []
            for a, b in zip(layers[:-1], layers[1:], strict=False):
                tower += [nn.Linear(a, b), nn.ReLU()]
            self.tower = nn.Sequential(*tower)
            width += layers[-1]
        self.out = nn.Linear(width, 1)
        for emb in self.embeddings():
            nn.init.normal_(emb.weight, std=0.01)

    def embeddings(self) -> list[nn.Embedding]:
        return [m for m in self.modules() if isinstance(m, nn.Embedding)]

    def user_embeddings(self) -> list[nn.Embedding]:
        return [e for n, e in self.named_children() if n.endswith("_user")]  # type: ignore[misc]

    def forward_with(self, user_vecs: list[torch.Tensor], items: torch.Tensor) -> torch.Tensor:
        """Logits for explicit user vectors (one per user embedding table), e.g. fold-in."""
        parts = []
        k = 0
        if self.use_gmf:
            parts.append(user_vecs[k] * self.gmf_item(items))
            k += 1
        if self.use_mlp:
            parts.append(self.tower(torch.cat([user_vecs[k], self.mlp_item(items)], dim=-1)))
        return self.out(torch.cat(parts, dim=-1)).squeeze(-1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        return self.forward_with([e(users) for e in self.user_embeddings()], items)
