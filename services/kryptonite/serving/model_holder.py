"""Load, poll and hot-swap the published models of one service (shared by all three).

A :class:`ModelHolder` loads the current version of each of its model types from the
artifact store, turns them into a service-specific bundle (``build``, e.g. an ANN index)
off the event loop, and publishes it as one immutable :class:`Loaded` reference. A
background task polls the store; a newly promoted version is loaded and built off the loop, then
the reference is swapped in one assignment: a call that already read the old reference
finishes on it, the next call sees the new one, and no call ever fails for a reload.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from kryptonite.models.base import Recommender
from kryptonite.rpc.errors import NotReady
from kryptonite.store.artifacts import ArtifactStore
from kryptonite.store.versions import tag as version_tag

log = logging.getLogger("kryptonite.serving.models")

B = TypeVar("B")
#: Builds a service bundle from the loaded models, by model type (runs in a thread).
Builder = Callable[[Mapping[str, Recommender]], B]


@dataclass(frozen=True)
class Loaded(Generic[B]):
    """One consistent snapshot: the bundle and the versions it was built from."""

    bundle: B
    versions: Mapping[str, str]

    @property
    def version(self) -> str:
        """``type@version`` of each model, e.g. ``ncf@20260101T000000000000Z-ab12cd``."""
        return version_tag(self.versions)


class ModelHolder(Generic[B]):
    """The current models of a service; :meth:`get` raises NOT_READY until loaded."""

    def __init__(
        self,
        store: ArtifactStore,
        model_types: Sequence[str],
        build: Builder[B],
        *,
        poll_s: float = 30.0,
    ) -> None:
        self.store = store
        self.model_types = list(model_types)
        self._build = build
        self.poll_s = poll_s
        self._current: Loaded[B] | None = None
        self._models: dict[str, tuple[str, Recommender]] = {}
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._missing: list[str] = []
        self.reloads = 0

    @property
    def current(self) -> Loaded[B] | None:
        return self._current

    def get(self) -> Loaded[B]:
        """The current snapshot (read it once per call); UNAVAILABLE when none is loaded."""
        loaded = self._current
        if loaded is None:
            raise NotReady(f"no model loaded yet ({', '.join(self.model_types)})")
        return loaded

    async def refresh(self) -> bool:
        """Load and swap in newer versions if the store has any; True when swapped."""
        async with self._lock:
            latest = await asyncio.to_thread(self._latest)
            if latest is None:
                return False
            if self._current is not None and dict(self._current.versions) == latest:
                return False
            loaded = await asyncio.to_thread(self._load, latest)
            self._current = loaded  # the atomic swap
            self.reloads += 1
            log.info("models loaded: %s", loaded.version)
            return True

    async def start(self, *, wait: bool = True) -> None:
        """Start polling; with ``wait``, return once a first version is loaded."""
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="model-poll")
        while wait and self._current is None:
            if self._task.done():
                self._task.result()  # re-raise why polling stopped
            await asyncio.sleep(min(self.poll_s, 0.5))

    async def close(self) -> None:
        """Stop polling (the loaded models stay usable)."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _poll(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a bad artifact must not kill the service: keep the old one
                log.exception("model reload failed; keeping %s", self._current_version())
            await asyncio.sleep(self.poll_s if self._current is not None else min(self.poll_s, 1))

    def _current_version(self) -> str:
        return self._current.version if self._current is not None else "nothing"

    # ----------------------------------------------------------------- in a thread
    def _latest(self) -> dict[str, str] | None:
        found = {t: self.store.current(t) for t in self.model_types}
        missing = [t for t, v in found.items() if v is None]
        if missing:
            if missing != self._missing:  # say it once, not every poll
                log.warning("no published version of %s in %s", missing, self.store.root)
            self._missing = missing
            return None
        self._missing = []
        return {t: v for t, v in found.items() if v is not None}

    def _load(self, versions: Mapping[str, str]) -> Loaded[B]:
        models: dict[str, tuple[str, Recommender]] = {}
        for model_type, version in versions.items():
            known = self._models.get(model_type)
            if known is not None and known[0] == version:
                models[model_type] = known  # unchanged: reuse, no reload
                continue
            models[model_type] = (version, self._fetch(model_type, version))
        bundle = self._build({t: m for t, (_, m) in models.items()})
        self._models = models
        return Loaded(bundle, dict(versions))

    def _fetch(self, model_type: str, version: str) -> Recommender:
        tmp = Path(tempfile.mkdtemp(prefix="kryptonite-model-"))
        try:
            model, _ = self.store.load(model_type, version, cache_dir=tmp)
        finally:  # the weights are in memory now
            shutil.rmtree(tmp, ignore_errors=True)
        return model
