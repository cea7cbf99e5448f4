"""Run the services as child processes on loopback (``kryptonite demo``) and stop them cleanly."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import httpx

#: Start order: the gateway last, once the services it calls are up.
SERVICES: tuple[str, ...] = ("content", "candidates", "ranking", "gateway")


class ServiceStartError(RuntimeError):
    """A child process exited or did not become ready in time."""


def _command(service: str) -> list[str]:
    return [sys.executable, "-m", "kryptonite", "serve", service]


@contextmanager
def running(
    services: Sequence[str], ready_url: str, *, timeout_s: float = 120.0
) -> Iterator[list[subprocess.Popen]]:
    """Start ``services``, wait until ``ready_url`` reports every dependency ok, stop them
    all on exit."""
    children: list[subprocess.Popen] = []
    try:
        for service in services:
            children.append(subprocess.Popen(_command(service)))
        _wait_ready(children, ready_url, timeout_s)
        yield children
    finally:
        stop(children)


def _wait_ready(children: list[subprocess.Popen], url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for child in children:
            if child.poll() is not None:
                raise ServiceStartError(f"{' '.join(child.args)} exited with {child.returncode}")
        if _all_ok(url):
            return
        time.sleep(0.5)
    raise ServiceStartError(f"{url} was not ready within {timeout_s:.0f}s")


def _all_ok(url: str) -> bool:
    """True when /readyz answers 200 and every check is ok (models loaded everywhere), so
    the first request is not a degraded one."""
    try:
        response = httpx.get(url, timeout=2.0)
        checks = response.json().get("checks", {})
    except (httpx.HTTPError, ValueError):
        return False
    return response.status_code == 200 and all(v == "ok" for v in checks.values())


def stop(children: list[subprocess.Popen], grace_s: float = 15.0) -> None:
    """SIGTERM every child (they drain in-flight calls), then SIGKILL stragglers."""
    for child in reversed(children):
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
