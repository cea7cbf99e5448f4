"""The whole stack as real processes on loopback, driven by Debian's Chromium.

One session: ml-latest-small ingested into an embedded SQLite file, the day's
``daily_update`` rows, small real models trained into a local artifact store, then the
candidates, ranking and content gRPC services and the gateway (uvicorn) as child
processes (``tests/e2e/launch.py``) on free ports. Playwright drives /usr/bin/chromium;
it never downloads a browser. Every request to anything but loopback is refused and
recorded, so the tests prove that pages need no external request.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from tests.conftest import ROOT, train_small

CHROMIUM = os.environ.get("KRYPTONITE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "reports" / "screenshots"
SERVICES = ("candidates", "ranking", "content")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepare(data_dir: Path, home: Path, url: str | None = None) -> tuple[str, Path]:
    """(database URL, artifact dir): data ingested, daily rows written, models trained.

    ``url`` is an empty database (e.g. on a private MariaDB); unset, a SQLite file.
    """
    from kryptonite.config import Settings
    from kryptonite.datasets.ingest import ingest_dataset
    from kryptonite.pipeline.daily import daily_update_rows
    from kryptonite.store.engine import create_sync_engine

    url = url or f"sqlite:///{home / 'kryptonite.sqlite'}"
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    engine = create_sync_engine(url)
    daily_update_rows(engine)
    engine.dispose()
    artifacts = home / "artifacts"
    train_small(data_dir, artifacts)
    return url, artifacts


@dataclass
class Stack:
    base_url: str
    env: dict[str, str]
    home: Path
    procs: list[subprocess.Popen] = field(default_factory=list)


def _start(name: str, port: int, env: dict[str, str], logs: Path) -> subprocess.Popen:
    service = name.split("-")[0]
    with (logs / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "tests" / "e2e" / "launch.py"), service, str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_ready(stack: Stack, timeout_s: float = 120.0, *, every: bool = True) -> None:
    """Until /readyz reports every dependency ok (or, with ``every=False``, the DB)."""
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        for proc in stack.procs:
            if proc.poll() is not None:
                raise RuntimeError(f"a service exited early; see the logs in {stack.home}")
        try:
            body = httpx.get(f"{stack.base_url}/readyz", timeout=2).json()
            last = str(body)
            checks = body.get("checks", {})
            if set(checks.values()) == {"ok"} or (not every and checks.get("database") == "ok"):
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.3)
    raise RuntimeError(f"stack not ready in {timeout_s}s: {last} (logs in {stack.home})")


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in procs:
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def stack(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("e2e")
    url, artifacts = prepare(data_dir, home)
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRYPTONITE_")}
    env |= {
        "KRYPTONITE_HOME": str(home),
        "KRYPTONITE_DATABASE_URL": url,
        "KRYPTONITE_ARTIFACT_URI": str(artifacts),
        "KRYPTONITE_MODEL_POLL_S": "3600",
        "KRYPTONITE_RPC_TIMEOUT_S": "5",
        "KRYPTONITE_LOG_LEVEL": "WARNING",
        "KRYPTONITE_SERVICE_THREADS": "1",
        # pragma: allowlist nextline secret
        "KRYPTONITE_TOKEN_SECRET": "e2e-secret-0123456789abcdef0123456789",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        **{f"KRYPTONITE_{n.upper()}_ADDR": f"127.0.0.1:{ports[n]}" for n in SERVICES},
    }
    stack = Stack(f"http://127.0.0.1:{ports['gateway']}", env, home)
    try:
        for name, port in ports.items():
            stack.procs.append(_start(name, port, env, home))
        _wait_ready(stack)
        yield stack
    finally:
        _stop(stack.procs)


@pytest.fixture(scope="session")
def degraded_stack(stack: Stack) -> Iterator[Stack]:
    """A second gateway on the same database whose three gRPC services are all down."""
    port = free_port()
    env = stack.env | {f"KRYPTONITE_{n.upper()}_ADDR": f"127.0.0.1:{free_port()}" for n in SERVICES}
    env["KRYPTONITE_RPC_TIMEOUT_S"] = "0.3"
    down = Stack(f"http://127.0.0.1:{port}", env, stack.home)
    try:
        down.procs.append(_start("gateway-degraded", port, env, stack.home))
        _wait_ready(down, 60, every=False)
        yield down
    finally:
        _stop(down.procs)


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    playwright_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Offsite:
    """Requests that tried to leave loopback (all refused)."""

    urls: list[str] = field(default_factory=list)


@pytest.fixture
def offsite() -> Offsite:
    return Offsite()


@pytest.fixture
def new_context(browser, stack: Stack, offsite: Offsite):
    """A factory of isolated browser contexts (own cookies) bound to the stack."""
    contexts = []

    def make(**options):
        options.setdefault("base_url", stack.base_url)
        context = browser.new_context(**options)
        context.set_default_timeout(15_000)

        def guard(route):
            url = route.request.url
            if url.startswith(("http://127.0.0.1", "data:", "blob:")):
                route.continue_()
            else:
                offsite.urls.append(url)
                route.abort()

        context.route("**/*", guard)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
