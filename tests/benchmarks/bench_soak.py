"""Soak: a fixed request rate for 5 minutes on the mixed workload, against the real stack.

The stack is bench_serve's (fresh MariaDB database with ml-latest-small, small real models,
the three gRPC services in their own process, the gateway in its own); lists of the 610
MovieLens users are precomputed into the cache first. ``--users`` accounts are then
registered through the API (one at a time; ``--signin`` of them sign in through it too).

The client is open-loop: request ``i`` is due at ``start + i / rate`` whatever the
responses do, and its latency is counted from that due time (so waiting for one of the
``--connections`` keep-alive connections behind a slow gateway is included; the service
time, from sending to the answer, is printed too). It speaks HTTP/1.1 over asyncio
streams itself: httpx costs more CPU per request than the gateway does, on shared CPUs.
Fixed mix:

  browse 50%:  search GET /movies?q= (20), detail GET /movies/{id} (15),
               similar GET /movies/{id}/similar (15);
  list 20%:    PUT /me/list/{id} (12), DELETE /me/list/{id} of a movie acknowledged on
               the list (8) (registered users);
  ratings 10%: PUT /me/ratings/{id} (registered users);
  recs 20%:    GET /me/recommendations, strategy blend/content/popular (2:1:1), half by
               registered users (their writes invalidate their lists: misses), half by
               MovieLens users (precomputed: hits until a list is recomputed).

No two writes of one (user, movie) are in flight at once, so the client knows what the
database must hold: after the run the list rows and ratings of the registered users are
compared with the acknowledged writes.

Prints per kind and overall: requests, throughput, p50/p99/max, errors by status; the
gateway's RSS after the warm-up, every 30 s and after the run (growth in MiB and %), its
CPU use, the recommendation outcomes (hit/miss/degraded) and the host's load average (the
box is shared: other processes' CPU use shows up as latency). Exits 1 on any error or a
database mismatch.

    python tests/benchmarks/bench_soak.py [--data-dir ../shared/data] [--rate 100]
        [--duration 300] [--warmup 30] [--users 200] [--connections 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import sys
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np
from bench_serve import REDIS, Stack, stack, token

#: kind -> weight (percent of requests)
MIX = {
    "search": 20,
    "detail": 15,
    "similar": 15,
    "list_put": 12,
    "list_delete": 8,
    "rate": 10,
    "recs_blend": 10,
    "recs_content": 5,
    "recs_popular": 5,
}
RATINGS = [x / 2 for x in range(1, 11)]
OK = {200, 201, 204}
WINDOW_S = 30
DRAIN_S = 30  # after a phase, how long the backlog may take
PASSWORD = "soak-password-123"  # pragma: allowlist secret


# ------------------------------------------------------------------ gateway process
def proc_status(pid: int) -> dict[str, float]:
    """VmRSS / VmHWM in MiB and user+system CPU seconds of ``pid`` (from /proc)."""
    found: dict[str, float] = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(rest.split()[0]) / 1024
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    found["cpu_s"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


def gateway_counters(base: str) -> dict[str, float]:
    """Recommendation outcomes and downstream failures from the gateway's /metrics."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    found: dict[str, float] = {}
    for labels, value in re.findall(
        r"kryptonite_recommendations_total\{([^}]*)\} ([\d.e+]+)", text
    ):
        tags = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        found[f"{tags['strategy']}:{tags['outcome']}"] = float(value)
    for target, value in re.findall(
        r'kryptonite_downstream_failures_total\{target="(\w+)"\} ([\d.e+]+)', text
    ):
        found[f"failures:{target}"] = float(value)
    return found


# ------------------------------------------------------------------ load generator
class HttpError(Exception):
    """A broken exchange (connection reset or closed, malformed answer, timeout)."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the gateway, one request at a time.

    A few lines of asyncio streams instead of httpx: on 2 shared CPUs httpx cost the client
    ~4 ms of CPU per request (more than the gateway's ~3 ms), so at 100 req/s the client
    starved and its own lag, not the gateway, set the latency."""

    def __init__(self, host: str, port: int, timeout_s: float) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.last_used = 0.0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(
        self, method: str, target: str, token: str | None, body: bytes | None
    ) -> tuple[int, bytes]:
        # reconnect an idle connection before uvicorn's 5 s keep-alive timeout closes it
        # (else a request sent as the server closes fails for no fault of either)
        if self.writer is not None and time.monotonic() - self.last_used > 3.0:
            self.close()
        try:
            async with asyncio.timeout(self.timeout_s):
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                head = f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                if token:
                    head += f"Authorization: Bearer {token}\r\n"
                if body is not None:
                    head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
                self.writer.write(head.encode() + b"\r\n" + (body or b""))
                status_line = await self.reader.readline()
                if not status_line:
                    raise HttpError("connection closed before the answer")
                status = int(status_line.split(b" ", 2)[1])
                length, chunked, close = 0, False, False
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    name = name.strip().lower()
                    if name == b"content-length":
                        length = int(value)
                    elif name == b"transfer-encoding":
                        chunked = b"chunked" in value.lower()
                    elif name == b"connection":
                        close = b"close" in value.lower()
                if chunked:
                    parts = []
                    while size := int((await self.reader.readline()).split(b";")[0], 16):
                        parts.append(await self.reader.readexactly(size))
                        await self.reader.readline()
                    await self.reader.readline()
                    content = b"".join(parts)
                else:
                    content = await self.reader.readexactly(length) if length else b""
        except (OSError, TimeoutError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
            self.close()
            raise HttpError(type(exc).__name__) from exc
        except BaseException:
            self.close()
            raise
        if close:
            self.close()
        self.last_used = time.monotonic()
        return status, content


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)  # ms from due time, every request
    errors: Counter = field(default_factory=Counter)  # status code or exception name
    degraded: int = 0

    def add(self, ms: float, outcome: str | None, degraded: bool = False) -> None:
        self.latencies.append(ms)  # failed requests too: their latency counts
        if outcome is not None:
            self.errors[outcome] += 1
        self.degraded += degraded

    @property
    def requests(self) -> int:
        return len(self.latencies)

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def merge(self, other: Stats) -> None:
        self.latencies += other.latencies
        self.errors.update(other.errors)
        self.degraded += other.degraded


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


@dataclass
class World:
    """What the client knows: catalog, users, and the acknowledged writes."""

    movie_ids: list[int]
    words: list[str]
    app_users: dict[int, str]  # user_id -> bearer token (registered users)
    ml_users: dict[int, str]  # MovieLens users (read only)
    lists: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    ratings: dict[int, dict[int, float]] = field(default_factory=lambda: defaultdict(dict))
    busy: set[tuple[int, int]] = field(default_factory=set)
    uncertain_list: set[tuple[int, int]] = field(default_factory=set)
    uncertain_rating: set[tuple[int, int]] = field(default_factory=set)
    fallbacks: int = 0  # deletes turned into puts (no acknowledged movie to remove)


class Soak:
    """The open-loop client: a scheduler queues due requests, ``connections`` workers
    (one connection each) send them; results go to per-kind and per-window stats."""

    def __init__(self, base: str, world: World, rng: random.Random, connections: int) -> None:
        self.world = world
        self.rng = rng
        url = httpx.URL(base)
        self.host, self.port = url.host, url.port
        self.connections = connections
        self.queue: asyncio.Queue = asyncio.Queue()
        self.stats: dict[str, Stats] = defaultdict(Stats)
        self.windows: dict[int, Stats] = defaultdict(Stats)
        self.record = False
        self.t_measure = 0.0
        self.lag_ms: list[float] = []
        self.service_ms: list[float] = []  # from sending to the answer (no queueing)
        self.last_end = 0.0
        self.error_samples: list[str] = []

    def plan(self, kind: str):
        """(method, target, {"auth": token, "json": body}, callback of a write or None)."""
        w, rng = self.world, self.rng
        if kind == "search":
            return "GET", f"/movies?q={quote(rng.choice(w.words))}&limit=20", {}, None
        if kind == "detail":
            return "GET", f"/movies/{rng.choice(w.movie_ids)}", {}, None
        if kind == "similar":
            return "GET", f"/movies/{rng.choice(w.movie_ids)}/similar", {}, None
        if kind.startswith("recs_"):
            pool = w.app_users if rng.random() < 0.5 else w.ml_users
            user = rng.choice(list(pool))
            target = f"/me/recommendations?strategy={kind[5:]}&limit=20"
            return "GET", target, {"auth": pool[user]}, None
        users = list(w.app_users)
        if kind == "list_delete":
            for _ in range(5):
                user = rng.choice(users)
                free = [m for m in w.lists[user] if (user, m) not in w.busy]
                if free:
                    movie = rng.choice(free)
                    return self._write("DELETE", user, movie, "list")
            w.fallbacks += 1
            kind = "list_put"
        for _ in range(20):
            user, movie = rng.choice(users), rng.choice(w.movie_ids)
            if (user, movie) not in w.busy:
                break
        if kind == "list_put":
            return self._write("PUT", user, movie, "list")
        return self._write("PUT", user, movie, "rating", rng.choice(RATINGS))

    def _write(self, method: str, user: int, movie: int, table: str, rating: float = 0.0):
        w = self.world
        w.busy.add((user, movie))
        path = f"/me/list/{movie}" if table == "list" else f"/me/ratings/{movie}"
        extra = {"auth": w.app_users[user]}
        if table == "rating":
            extra["json"] = json.dumps({"rating": rating}).encode()

        def done(ok: bool) -> None:
            w.busy.discard((user, movie))
            if table == "list":
                if not ok:
                    w.uncertain_list.add((user, movie))
                elif method == "PUT":
                    w.lists[user].add(movie)
                else:
                    w.lists[user].discard(movie)
            elif not ok:
                w.uncertain_rating.add((user, movie))
            else:
                w.ratings[user][movie] = rating

        return method, path, extra, done

    async def one(self, conn: Connection, kind: str, due: float) -> None:
        method, path, extra, done = self.plan(kind)
        if method == "DELETE":
            kind = "list_delete"
        elif path.startswith("/me/list/"):
            kind = "list_put"
        outcome: str | None = None
        degraded = False
        try:
            sent = time.monotonic()
            status, content = await conn.request(method, path, extra.get("auth"), extra.get("json"))
            if status not in OK:
                outcome = str(status)
                if len(self.error_samples) < 5:
                    self.error_samples.append(f"{kind} {method} {path}: {content[:200]!r}")
            elif method == "GET" and kind not in ("search", "detail"):
                degraded = bool(json.loads(content).get("degraded"))
        except HttpError as exc:
            outcome = f"HttpError({exc})"
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{kind} {method} {path}: {outcome} {exc.__cause__!r}")
        except asyncio.CancelledError:  # still in flight when the drain ended
            if done is not None:
                done(False)
            if self.record:
                self.stats[kind].add((time.monotonic() - due) * 1000, "cancelled")
            raise
        end = time.monotonic()
        if done is not None:
            done(outcome is None)
        if self.record and due >= self.t_measure:
            self.last_end = max(self.last_end, end)
            ms = (end - due) * 1000
            self.stats[kind].add(ms, outcome, degraded)
            self.service_ms.append((end - sent) * 1000)
            self.windows[int((end - self.t_measure) // WINDOW_S)].add(ms, outcome, degraded)

    async def worker(self, queue: asyncio.Queue) -> None:
        conn = Connection(self.host, self.port, timeout_s=10.0)
        try:
            while (item := await queue.get()) is not None:
                await self.one(conn, *item)
        finally:
            conn.close()

    async def phase(self, rate: float, duration: float, *, record: bool) -> None:
        """``rate`` requests/s for ``duration`` s (open loop), then up to ``DRAIN_S`` for the
        backlog; requests still queued then count as errors ("not sent")."""
        kinds, weights = list(MIX), list(MIX.values())
        start = time.monotonic()
        self.record, self.t_measure = record, start
        # due requests wait here (latency runs from their due time) for one of
        # ``connections`` workers: never more requests in flight than connections, and
        # one connection each
        self.queue = queue = asyncio.Queue()
        workers = [asyncio.create_task(self.worker(queue)) for _ in range(self.connections)]
        for i in range(int(rate * duration)):
            due = start + i / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                if record:
                    self.lag_ms.append(-delay * 1000)
                await asyncio.sleep(0)
            queue.put_nowait((self.rng.choices(kinds, weights)[0], due))
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.wait(workers, timeout=DRAIN_S)
        while not queue.empty():
            if (item := queue.get_nowait()) is not None and record:
                self.stats[item[0]].add((time.monotonic() - item[1]) * 1000, "not sent")
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


# ------------------------------------------------------------------ setup
def catalog(url: str) -> tuple[list[int], list[str]]:
    """Movie ids and title words (>= 4 letters) for searches."""
    from sqlalchemy import select

    from kryptonite.store.engine import create_sync_engine
    from kryptonite.store.tables import movies

    engine = create_sync_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(movies.c.movie_id, movies.c.title)).all()
    engine.dispose()
    words = sorted({w.lower() for _, t in rows for w in re.findall(r"[A-Za-z]{4,}", t)})
    return [int(r.movie_id) for r in rows], words


async def register(base: str, n: int, signin: int) -> dict[int, str]:
    """``n`` accounts registered through the API: {user_id: bearer token}. The first
    ``signin`` sign in (POST /auth/token); the others' tokens are signed here with the
    gateway's secret (each sign-in is one more argon2 hash on the shared CPUs)."""
    run = uuid.uuid4().hex[:6]
    # one at a time: concurrent registrations can fail with 500 "could not allocate a user
    # id" on MariaDB (create_user retries max(user_id) + 1 inside one REPEATABLE READ
    # transaction, so every retry reads the same snapshot)
    sem = asyncio.Semaphore(1)
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:

        async def one(i: int) -> tuple[int, str]:
            name = f"soak_{run}_{i}"
            async with sem:
                body = {"username": name, "password": PASSWORD, "email": f"{name}@soak.test"}
                resp = await client.post("/auth/register", json=body)
                assert resp.status_code == 201, resp.text
                user_id = resp.json()["user_id"]
                if i >= signin:
                    return user_id, token(user_id)
                form = {"username": name, "password": PASSWORD}
                resp = await client.post("/auth/token", data=form)
                assert resp.status_code == 200, resp.text
                return user_id, resp.json()["access_token"]

        return dict(await asyncio.gather(*(one(i) for i in range(n))))


def precompute_lists(st: Stack) -> None:
    from kryptonite.config import Settings
    from kryptonite.pipeline.precompute import precompute

    settings = Settings(
        database_url=st.url,
        redis_url=REDIS,
        cache_prefix=st.env["KRYPTONITE_CACHE_PREFIX"],
        artifact_uri=st.artifacts,
    )
    result = asyncio.run(precompute(settings))
    lists = ", ".join(f"{k} {v}" for k, v in sorted(result.lists.items()))
    print(f"precomputed {result.users} users in {result.seconds:.1f}s: {lists}", flush=True)


def verify(url: str, world: World) -> list[str]:
    """Database rows of the registered users vs the acknowledged writes; problems found."""
    from sqlalchemy import select

    from kryptonite.store.engine import create_sync_engine
    from kryptonite.store.tables import rating_explicit, user_movielist

    ids = list(world.app_users)
    engine = create_sync_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(user_movielist.c.user_id, user_movielist.c.movie_id).where(
                user_movielist.c.user_id.in_(ids)
            )
        ).all()
        db_list = {(int(u), int(m)) for u, m in rows}
        rows = conn.execute(
            select(
                rating_explicit.c.user_id, rating_explicit.c.movie_id, rating_explicit.c.rating
            ).where(rating_explicit.c.user_id.in_(ids))
        ).all()
        db_ratings = {(int(u), int(m)): float(r) for u, m, r in rows}
    engine.dispose()
    want_list = {(u, m) for u, ms in world.lists.items() for m in ms}
    want_ratings = {(u, m): r for u, rs in world.ratings.items() for m, r in rs.items()}
    # a write that failed may or may not have landed: leave those pairs out
    db_list_c = {p for p in db_list if p not in world.uncertain_list}
    want_list_c = {p for p in want_list if p not in world.uncertain_list}
    db_r = {p: r for p, r in db_ratings.items() if p not in world.uncertain_rating}
    want_r = {p: r for p, r in want_ratings.items() if p not in world.uncertain_rating}
    print(
        f"\ndatabase check ({len(ids)} registered users): list rows {len(db_list)} in the "
        f"database, {len(want_list)} acknowledged; ratings {len(db_ratings)} in the "
        f"database, {len(want_ratings)} acknowledged; uncertain (failed) writes left out: "
        f"{len(world.uncertain_list)} list, {len(world.uncertain_rating)} rating"
    )
    problems = []
    if db_list_c != want_list_c:
        problems.append(
            f"list rows: {len(want_list_c - db_list_c)} acknowledged but missing, "
            f"{len(db_list_c - want_list_c)} present but deleted/never added"
        )
    wrong = [p for p in set(db_r) | set(want_r) if db_r.get(p) != want_r.get(p)]
    if wrong:
        problems.append(f"ratings: {len(wrong)} differ, e.g. {wrong[:3]}")
    print("database check: " + ("; ".join(problems) if problems else "OK (exact match)"))
    return problems


# ------------------------------------------------------------------ report
def table(stats: dict[str, Stats], duration: float) -> Stats:
    print(
        f"\n{'kind':<14}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'degraded':>9}  errors"
    )
    total = Stats()
    for kind in [*MIX, "all"]:
        s = total if kind == "all" else stats.get(kind, Stats())
        if kind != "all":
            total.merge(s)
        errs = ", ".join(f"{k}: {v}" for k, v in s.errors.most_common()) or "0"
        print(
            f"{kind:<14}{s.requests:>9}{s.requests / duration:>8.1f}{pct(s.latencies, 50):>9.1f}"
            f"{pct(s.latencies, 99):>9.1f}{max(s.latencies, default=0):>9.1f}{s.degraded:>9}"
            f"  {errs}"
        )
    return total


def cpu_seconds(pids: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far of this client process and of each of ``pids``."""
    found = {name: proc_status(pid)["cpu_s"] for name, pid in pids.items()}
    times = os.times()
    found["client (this process)"] = times.user + times.system
    return found


async def soak(args: argparse.Namespace, st: Stack, gw_pid: int, base: str) -> int:
    url = st.url
    movie_ids, words = catalog(url)
    t0 = time.perf_counter()
    app_users = await register(base, args.users, args.signin)
    print(
        f"registered {len(app_users)} users ({min(args.signin, args.users)} signed in) in "
        f"{time.perf_counter() - t0:.0f}s",
        flush=True,
    )
    ml_users = {u: token(u, ttl_s=7200) for u in range(1, 611)}
    world = World(movie_ids, words, app_users, ml_users)
    load = Soak(base, world, random.Random(args.seed), args.connections)
    print(f"warm-up: {args.rate:g} req/s for {args.warmup}s ...", flush=True)
    await load.phase(args.rate, args.warmup, record=False)
    before = proc_status(gw_pid)
    pids = {"gateway": gw_pid, "services (3 in 1 process)": st.procs[0].pid}
    cpu0 = cpu_seconds(pids)
    counters0 = gateway_counters(base)
    load_avg0 = os.getloadavg()
    series = [(0, before)]
    print(
        f"measuring: {args.rate:g} req/s for {args.duration}s; gateway RSS "
        f"{before['VmRSS']:.1f} MiB after the warm-up",
        flush=True,
    )

    async def sample() -> None:
        prev = before
        for k in range(1, args.duration // WINDOW_S + 1):
            await asyncio.sleep(max(0.0, load.t_measure + k * WINDOW_S - time.monotonic()))
            now = proc_status(gw_pid)
            series.append((k * WINDOW_S, now))
            win = load.windows.get(k - 1, Stats())
            cpu = (now["cpu_s"] - prev["cpu_s"]) / WINDOW_S * 100
            print(
                f"  t={k * WINDOW_S:>4}s  rss {now['VmRSS']:7.1f} MiB  "
                f"gateway cpu {cpu:5.1f}%  load {os.getloadavg()[0]:5.2f}  "
                f"done {win.requests:>5} ({win.requests / WINDOW_S:6.1f}/s)  "
                f"p50 {pct(win.latencies, 50):7.1f}  p99 {pct(win.latencies, 99):7.1f} ms  "
                f"errors {win.error_count}  backlog {load.queue.qsize()}",
                flush=True,
            )
            prev = now

    print(f"every {WINDOW_S}s: gateway RSS and CPU, host load, requests answered in the window")
    sampler = asyncio.create_task(sample())
    t_start = time.monotonic()
    await load.phase(args.rate, args.duration, record=True)
    wall = time.monotonic() - t_start
    await sampler  # its last sample is due at the end of the run
    after = proc_status(gw_pid)
    cpu1 = cpu_seconds(pids)
    counters1 = gateway_counters(base)
    load_avg1 = os.getloadavg()

    span = max(load.last_end - load.t_measure, 1e-9)
    total = table(load.stats, span)
    print(
        f"\noffered {args.rate:g} req/s for {args.duration}s = {int(args.rate * args.duration)} "
        f"requests; completed {total.requests} in {span:.1f}s (first due -> last answer) = "
        f"{total.requests / span:.1f} req/s; errors {total.error_count}; "
        f"{args.connections} connections max, {os.cpu_count()} CPUs shared with other work"
    )
    print(
        f"service time (sent -> answered, no queueing): p50 {pct(load.service_ms, 50):.1f} ms, "
        f"p99 {pct(load.service_ms, 99):.1f} ms"
    )
    for sample in load.error_samples:
        print(f"  error: {sample}")
    if load.lag_ms:
        print(
            f"client scheduler behind schedule for {len(load.lag_ms)} sends "
            f"(max {max(load.lag_ms):.1f} ms; counted in the latencies)"
        )
    if world.fallbacks:
        print(f"{world.fallbacks} deletes sent as puts (no acknowledged movie free to remove)")
    print(f"load average (1 min): {load_avg0[0]:.2f} at start, {load_avg1[0]:.2f} at end")
    delta = {k: counters1.get(k, 0) - counters0.get(k, 0) for k in counters1}
    recs = ", ".join(f"{k} {v:.0f}" for k, v in sorted(delta.items()) if v and ":" in k)
    print(f"gateway counters during the run: {recs or 'none'}")
    grow = after["VmRSS"] - before["VmRSS"]
    cpu = after["cpu_s"] - before["cpu_s"]
    print(
        f"\ngateway RSS: {before['VmRSS']:.1f} MiB after warm-up -> {after['VmRSS']:.1f} MiB "
        f"after the run: {grow:+.1f} MiB ({grow / before['VmRSS'] * 100:+.1f}%); peak (VmHWM) "
        f"{after['VmHWM']:.1f} MiB"
    )
    print("RSS series (MiB): " + " ".join(f"{t}s={s['VmRSS']:.1f}" for t, s in series))
    print(
        f"gateway CPU: {cpu:.1f} s in {wall:.0f} s ({cpu / wall * 100:.0f}% of one core), "
        f"{cpu / max(1, total.requests) * 1000:.2f} ms per request; "
        + ", ".join(
            f"{name} {(cpu1[name] - cpu0[name]) / wall * 100:.0f}%"
            for name in cpu1
            if name != "gateway"
        )
    )
    problems = verify(url, world)
    return 1 if total.error_count or problems else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--rate", type=float, default=100.0, help="requests/s (open loop)")
    parser.add_argument("--duration", type=int, default=300, help="measured seconds")
    parser.add_argument("--warmup", type=int, default=30, help="seconds before measuring")
    parser.add_argument("--users", type=int, default=200, help="registered users")
    parser.add_argument("--signin", type=int, default=20, help="users who sign in via the API")
    parser.add_argument("--connections", type=int, default=64, help="client connection cap")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with stack(args.data_dir) as st:
        precompute_lists(st)
        gw, base = st.gateway(KRYPTONITE_CACHE_TTL_S="3600")
        code = asyncio.run(soak(args, st, gw.pid, base))
    sys.exit(code)


if __name__ == "__main__":
    main()
