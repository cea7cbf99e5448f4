"""Gateway serving throughput and latency with ``wrk``: 64 connections for 30 s each.

In one run, on loopback, against real MariaDB, Redis and the three gRPC services (small
real models trained on ml-latest-small, each service in its own process):

Order: hit, ceiling (back to back, same load on a shared box), then miss.

  hit:     GET /me/recommendations for one user whose list is cached (one Redis HGET);
  miss:    the same for 610 MovieLens users in turn with a 1 s cache TTL, so (nearly) every
           request reads MySQL, calls candidates then ranking, renders and writes the cache;
           the gateway's own hit/miss counters are printed to show it;
  ceiling: a minimal FastAPI endpoint doing one Redis GET (the stack's upper bound).

Prints requests/s, p50/p99 and errors of each, and hit/ceiling (goal: >= 0.5).

    python tests/benchmarks/bench_serve.py [--data-dir ../shared/data] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

SERVER = os.environ.get("KRYPTONITE_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306")
REDIS = os.environ.get("KRYPTONITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
SECRET = "bench-secret-0123456789abcdef0123456789"  # pragma: allowlist secret
LUA_ROTATE = """
tokens = {}
for line in io.lines("%s") do tokens[#tokens + 1] = line end
counter = 0
request = function()
  counter = counter + 1
  local t = tokens[(counter %% #tokens) + 1]
  return wrk.format("GET", "/me/recommendations?limit=20", {["Authorization"] = "Bearer " .. t})
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ------------------------------------------------------------------ child roles
def role_services(artifacts: str, ports: list[int]) -> None:
    """The three services in this process (each on its own port), until SIGTERM."""
    from kryptonite.candidates import main as candidates_main
    from kryptonite.config import Settings
    from kryptonite.content import main as content_main
    from kryptonite.ranking import main as ranking_main

    async def run() -> None:
        settings = Settings(artifact_uri=artifacts, model_poll_s=3600)
        mods = (candidates_main, ranking_main, content_main)
        started = [
            mod.create(settings, port=port, metrics_port=None, grace_s=0.5)
            for mod, port in zip(mods, ports, strict=True)
        ]
        for svc in started:
            await svc.start()
        print("services ready", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        for svc in started:
            await svc.stop(0.5)

    asyncio.run(run())


def role_ceiling(port: int) -> None:
    """A minimal FastAPI app: one endpoint, one Redis GET."""
    import redis.asyncio as aioredis
    import uvicorn
    from fastapi import FastAPI, Response

    app = FastAPI()
    client = aioredis.Redis.from_url(REDIS, max_connections=256)

    @app.get("/ceiling")
    async def ceiling() -> Response:
        value = await client.get("kryptonite-bench:ceiling")
        return Response(value or b"{}", media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def role_gateway(port: int) -> None:
    """The real gateway, configured from KRYPTONITE_* variables set by the parent."""
    from kryptonite.config import Settings
    from kryptonite.gateway.main import run

    run(Settings(log_level="WARNING"), host="127.0.0.1", port=port)


# ------------------------------------------------------------------ setup
def prepare(data_dir: Path, work: Path) -> tuple[str, str]:
    """A fresh MariaDB database with ml-latest-small, and an artifact store with small
    real models; returns (database url, artifact dir)."""
    from sqlalchemy.engine import make_url

    from kryptonite.config import Settings
    from kryptonite.datasets.ingest import ingest_dataset
    from kryptonite.datasets.movielens import load_dataset
    from kryptonite.datasets.registry import get_spec
    from kryptonite.models.content import ContentModel
    from kryptonite.models.item2item import ItemKNN
    from kryptonite.models.mf import ImplicitMF
    from kryptonite.models.ncf.model import NCF
    from kryptonite.models.popularity import Popularity
    from kryptonite.pipeline.train import train_all, train_data
    from kryptonite.store.artifacts import LocalArtifactStore
    from kryptonite.store.engine import create_sync_engine

    name = f"kryptonite_bench_{uuid.uuid4().hex[:8]}"
    engine = create_sync_engine(SERVER + "/mysql")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    engine.dispose()
    url = make_url(SERVER).set(database=name).render_as_string(hide_password=False)
    ingest_dataset(Settings(database_url=url, data_dir=data_dir), "ml-latest-small")
    spec = get_spec("ml-latest-small")
    frames = load_dataset(spec, data_dir / spec.dirname)
    data = train_data(ratings=frames.ratings, movies=frames.movies, tags=frames.tags)
    models = {
        "popularity": Popularity,
        "content": ContentModel,
        "item2item": lambda: ItemKNN(neighbours=50),
        "mf_implicit": lambda: ImplicitMF(factors=32, iterations=5, alpha=10.0, threads=1),
        "ncf": lambda: NCF(factors=16, layers=[32, 16, 8], epochs=1, threads=1),
    }
    artifacts = work / "artifacts"
    train_all(data, LocalArtifactStore(artifacts), models=models, progress=False)
    return url, str(artifacts)


def drop(url: str) -> None:
    from sqlalchemy.engine import make_url

    from kryptonite.store.engine import create_sync_engine

    engine = create_sync_engine(SERVER + "/mysql")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{make_url(url).database}`")
    engine.dispose()


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, __file__, "--role", *args], env={**os.environ, **(env or {})}
    )


def wait_http(url: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def wait_ready(base: str, timeout_s: float = 180.0) -> None:
    """Until /readyz reports every dependency ok (the services load their models first)."""
    deadline = time.monotonic() + timeout_s
    checks: dict = {}
    while time.monotonic() < deadline:
        try:
            checks = httpx.get(f"{base}/readyz", timeout=5.0).json()["checks"]
            if set(checks.values()) == {"ok"}:
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise RuntimeError(f"gateway dependencies not ready: {checks}")


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()


def token(user_id: int, ttl_s: int = 3600) -> str:
    """A gateway bearer token for ``user_id`` (signed with the bench secret)."""
    import jwt

    now = int(time.time())
    claims = {"sub": str(user_id), "name": f"u{user_id}", "iat": now, "exp": now + ttl_s}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@dataclass
class Stack:
    """A prepared database and artifact store, the services process, and the gateway
    settings (``env``); :meth:`gateway` starts a gateway on it."""

    url: str
    artifacts: str
    work: Path
    env: dict[str, str]
    procs: list[subprocess.Popen] = field(default_factory=list)

    def gateway(self, **overrides: str) -> tuple[subprocess.Popen, str]:
        """A gateway process with ``env`` + ``overrides``, once ready: (process, base url)."""
        port = free_port()
        proc = spawn("gateway", str(port), env={**self.env, **overrides})
        self.procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz")
        wait_ready(base)
        return proc, base


@contextmanager
def stack(data_dir: Path) -> Iterator[Stack]:
    """Prepare (MariaDB + ml-latest-small + small models), start the three services; on
    exit stop every process started, drop the database and remove the work folder."""
    work = Path(tempfile.mkdtemp(prefix="kryptonite-bench-"))
    print("preparing: MariaDB + ml-latest-small, training small models ...", flush=True)
    t0 = time.perf_counter()
    url, artifacts = prepare(data_dir.resolve(), work)
    print(f"prepared in {time.perf_counter() - t0:.0f}s", flush=True)
    ports = [free_port() for _ in range(3)]
    env = {
        "KRYPTONITE_DATABASE_URL": url,
        "KRYPTONITE_REDIS_URL": REDIS,
        "KRYPTONITE_CACHE_PREFIX": f"bench-{uuid.uuid4().hex[:6]}",
        "KRYPTONITE_ARTIFACT_URI": artifacts,
        "KRYPTONITE_TOKEN_SECRET": SECRET,
        "KRYPTONITE_CANDIDATES_ADDR": f"127.0.0.1:{ports[0]}",
        "KRYPTONITE_RANKING_ADDR": f"127.0.0.1:{ports[1]}",
        "KRYPTONITE_CONTENT_ADDR": f"127.0.0.1:{ports[2]}",
        "KRYPTONITE_RPC_TIMEOUT_S": "2.0",
    }
    st = Stack(url, artifacts, work, env, [spawn("services", artifacts, *map(str, ports))])
    try:
        time.sleep(1)
        yield st
    finally:
        for proc in reversed(st.procs):
            stop(proc)
        drop(url)
        shutil.rmtree(work, ignore_errors=True)


# ------------------------------------------------------------------ measuring
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * _UNITS[unit]


def wrk(url: str, duration: int, *, header: str | None = None, script: str | None = None) -> dict:
    cmd = ["wrk", "-t2", "-c64", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if header:
        cmd += ["-H", header]
    if script:
        cmd += ["-s", script]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    print(out, flush=True)
    if "Latency Distribution" not in out:
        raise RuntimeError("wrk completed no request")
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    for kind in re.findall(r"Socket errors: (.*)", out):
        errors += sum(int(n) for n in re.findall(r"\d+", kind))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "p99": _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),  # type: ignore[union-attr]
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),  # type: ignore[union-attr]
        "errors": errors,
    }


def outcomes(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics").text
    found: dict[str, float] = {}
    for outcome, value in re.findall(
        r'kryptonite_recommendations_total\{outcome="(\w+)",strategy="blend"\} ([\d.e+]+)', text
    ):
        found[outcome] = float(value)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--duration", type=int, default=30)
    parser.add_argument("--role", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role:
        role, *rest = args.role
        if role == "services":
            role_services(rest[0], [int(p) for p in rest[1:]])
        elif role == "ceiling":
            role_ceiling(int(rest[0]))
        else:
            role_gateway(int(rest[0]))
        return
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    import redis

    results: dict[str, dict] = {}
    with stack(args.data_dir) as st:
        prefix = st.env["KRYPTONITE_CACHE_PREFIX"]
        # -- cache hit
        gw, base = st.gateway(KRYPTONITE_CACHE_TTL_S="3600")
        header = f"Authorization: Bearer {token(1)}"
        warm = httpx.get(f"{base}/me/recommendations", headers={"Authorization": header[15:]})
        assert warm.status_code == 200 and not warm.json()["degraded"], warm.text
        print("hit ...", flush=True)
        results["cache hit"] = wrk(
            f"{base}/me/recommendations?limit=20", args.duration, header=header
        )
        results["cache hit"]["outcomes"] = outcomes(base)
        stop(gw)
        # -- ceiling
        redis.Redis.from_url(REDIS).set("kryptonite-bench:ceiling", warm.content, ex=600)
        port = free_port()
        ceiling = spawn("ceiling", str(port))
        st.procs.append(ceiling)
        wait_http(f"http://127.0.0.1:{port}/ceiling")
        print("ceiling ...", flush=True)
        results["ceiling (1 Redis GET)"] = wrk(f"http://127.0.0.1:{port}/ceiling", args.duration)
        stop(ceiling)
        # -- cache miss through both stages
        tokens = st.work / "tokens.txt"
        tokens.write_text("\n".join(token(u) for u in range(1, 611)) + "\n")
        script = st.work / "rotate.lua"
        script.write_text(LUA_ROTATE % tokens)
        gw, base = st.gateway(KRYPTONITE_CACHE_TTL_S="1", KRYPTONITE_CACHE_PREFIX=f"{prefix}-miss")
        print("miss ...", flush=True)
        results["cache miss (2 stages)"] = wrk(f"{base}/", args.duration, script=str(script))
        results["cache miss (2 stages)"]["outcomes"] = outcomes(base)
        stop(gw)
    print(f"\n64 connections, {args.duration}s each, wrk -t2, {os.cpu_count()} CPUs (shared)")
    print(f"{'case':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}  gateway outcomes")
    for case, r in results.items():
        extra = r.get("outcomes", "")
        print(
            f"{case:<24}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}"
            f"{r['errors']:>8}  {extra}"
        )
    ratio = results["cache hit"]["rps"] / results["ceiling (1 Redis GET)"]["rps"]
    print(f"\ncache hit / ceiling = {ratio:.2f} (goal >= 0.5)")


if __name__ == "__main__":
    main()
