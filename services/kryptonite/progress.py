"""Heartbeats for long steps: a bar that keeps ticking, or a line every few seconds."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def every(seconds: float, tick: Callable[[float], None]) -> Iterator[None]:
    """Call ``tick(elapsed_s)`` every ``seconds`` from a daemon thread until the block ends."""
    stop = threading.Event()
    start = time.monotonic()

    def loop() -> None:
        while not stop.wait(seconds):
            tick(time.monotonic() - start)

    thread = threading.Thread(target=loop, name="heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def ticking(bar: Any, seconds: float = 2.0):
    """Redraw a tqdm bar every ``seconds`` so its clock moves while one item runs long."""
    return every(seconds, lambda _: bar.refresh())


def step(label: str, seconds: float = 10.0):
    """Print "label: still working (30s)" to stderr every ``seconds`` while a step runs."""

    def tick(elapsed: float) -> None:
        print(f"{label}: still working ({elapsed:.0f}s)", file=sys.stderr, flush=True)

    return every(seconds, tick)
