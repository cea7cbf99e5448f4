"""The served pipeline's settings, read from one place by the gateway, the services,
precompute and the offline evaluation (pure Python: the gateway imports it)."""

from __future__ import annotations

from dataclasses import dataclass

from kryptonite.config import Settings


def _default(name: str):
    return Settings.model_fields[name].default


@dataclass(frozen=True)
class ServedConfig:
    """Candidate count, history depth and diversity of the deployed blend (defaults: the
    settings' defaults; per-source quotas: ``candidates.retrieval.DEFAULT_SHARES``)."""

    candidates: int = _default("gateway_candidates")
    history: int = _default("gateway_history")
    diversity: float = _default("ranking_diversity")

    @classmethod
    def from_settings(cls, settings: Settings) -> ServedConfig:
        return cls(
            candidates=settings.gateway_candidates,
            history=settings.gateway_history,
            diversity=settings.ranking_diversity,
        )
