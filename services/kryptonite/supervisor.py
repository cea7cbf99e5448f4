"""Run the services as child processes on loopback (``kryptonite demo``) and stop them cleanly.

Each child writes to its own log file. Start-up waits as long as the children make
progress (their logs grow or they use CPU) and fails when one exits or stalls; after
start-up :func:`watch` fails as soon as one exits. Every failure is a :class:`ServiceError`
whose message is one line naming the service and its log.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

#: Start order: the gateway last, once the services it calls are up.
SERVICES: tuple[str, ...] = ("content", "candidates", "ranking", "gateway")


class ServiceError(RuntimeError):
    """A child process exited, stalled, or could not start (one line, names its log)."""


@dataclass
class Child:
    name: str
    process: subprocess.Popen
    log: Path

    def cpu_ticks(self) -> int | None:
        """User + system CPU time so far (Linux /proc), None where unknown."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return None

    def last_line(self) -> str:
        try:
            text = self.log.read_text(errors="replace").replace("\0", "")
            lines = [ln for ln in text.splitlines() if ln.strip()]
        except OSError:
            return ""
        return lines[-1].strip()[:200] if lines else ""

    def exited(self, when: str) -> ServiceError:
        code = self.process.returncode
        how = (
            f"was killed by {signal.Signals(-code).name}"
            if code < 0 and -code in signal.valid_signals()
            else f"exited with code {code}"
        )
        last = self.last_line()
        detail = f": {last}" if last else ""
        return ServiceError(f"{self.name} {how} {when}{detail} (log: {self.log})")


def _command(service: str) -> list[str]:
    return [sys.executable, "-m", "kryptonite", "serve", service]


def check_ports(ports: Mapping[str, tuple[str, int]]) -> None:
    """Fail (one line) when a service's port is taken by another process."""
    for name, (host, port) in ports.items():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError:
                raise ServiceError(
                    f"{name}: port {host}:{port} is in use by another process "
                    f"(stop it or set KRYPTONITE_{name.upper()}_PORT)"
                ) from None


@contextmanager
def running(
    services: Sequence[str],
    ready_url: str,
    *,
    log_dir: Path,
    stall_s: float = 90.0,
    tick_s: float = 10.0,
    say: Callable[[str], None] = print,
    command: Callable[[str], list[str]] = _command,
) -> Iterator[list[Child]]:
    """Start ``services`` (``command(service)``, output to ``log_dir/<service>.log``), wait
    until ``ready_url`` reports every dependency ok, stop them all on exit."""
    log_dir.mkdir(parents=True, exist_ok=True)
    children: list[Child] = []
    try:
        for service in services:
            log = log_dir / f"{service}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    command(service), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
                )
            children.append(Child(service, process, log))
        wait_ready(children, ready_url, stall_s=stall_s, tick_s=tick_s, say=say)
        yield children
    finally:
        stop(children)


def _progress(children: list[Child]) -> tuple:
    """Changes whenever a child logs something or uses CPU."""
    return tuple((c.log.stat().st_size if c.log.exists() else 0, c.cpu_ticks()) for c in children)


def wait_ready(
    children: list[Child],
    url: str,
    *,
    stall_s: float = 90.0,
    tick_s: float = 10.0,
    say: Callable[[str], None] = print,
) -> None:
    """Return once ``url`` reports every check ok. Raise :class:`ServiceError` when a
    child exits, or when the children it waits for made no progress for ``stall_s``
    seconds (only those count: a ready gateway logs every poll)."""
    start = last_progress = last_tick = time.monotonic()
    seen: tuple | None = None
    while True:
        for child in children:
            if child.process.poll() is not None:
                raise child.exited("during start-up")
        checks = ready_checks(url)
        if checks is not None and all(v == "ok" for v in checks.values()):
            return
        now = time.monotonic()
        waiting = _not_ready(children, checks)
        watched = children if checks is None else [c for c in children if c.name in waiting]
        if (current := (tuple(waiting), _progress(watched))) != seen:
            seen, last_progress = current, now
        if now - last_progress > stall_s:
            stuck = watched[0] if checks is not None and watched else _gateway(children)
            raise ServiceError(
                f"{stuck.name} made no progress for {stall_s:.0f}s during start-up, waiting "
                f"for {', '.join(waiting)} (log: {stuck.log})"
            )
        if now - last_tick >= tick_s:
            last_tick = now
            say(f"waiting for {', '.join(waiting)} ({now - start:.0f}s)")
        time.sleep(0.5)


def _gateway(children: list[Child]) -> Child:
    return next((c for c in children if c.name == "gateway"), children[-1])


def _not_ready(children: list[Child], checks: dict[str, str] | None) -> list[str]:
    """Names of the services not ready yet (the gateway when it does not answer)."""
    if checks is None:
        return ["gateway"]
    names = {c.name for c in children}
    out = [k for k, v in checks.items() if v != "ok" and k in names]
    return out or [f"{k} ({v})" for k, v in checks.items() if v != "ok"] or ["gateway"]


def ready_checks(url: str) -> dict[str, str] | None:
    """``/readyz``'s checks when it answers 200, else None."""
    try:
        response = httpx.get(url, timeout=2.0)
        checks = response.json().get("checks", {})
    except (httpx.HTTPError, ValueError, AttributeError):
        return None
    return checks if response.status_code == 200 else None


def watch(children: list[Child], poll_s: float = 1.0) -> None:
    """Block until a child exits, then raise :class:`ServiceError` naming it."""
    while True:
        for child in children:
            if child.process.poll() is not None:
                raise child.exited("after start-up")
        time.sleep(poll_s)


def stop(children: list[Child], grace_s: float = 15.0) -> None:
    """SIGTERM every child (they drain in-flight calls), then SIGKILL stragglers."""
    for child in reversed(children):
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for child in children:
        try:
            child.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()


def log_dir_for(home: Path) -> Path:
    """Where the demo's service logs go."""
    return Path(os.path.abspath(home)) / "logs"
