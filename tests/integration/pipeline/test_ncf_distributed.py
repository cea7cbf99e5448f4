"""NCF under torch.distributed: `torchrun --nproc-per-node 2 -m kryptonite train --models
ncf` (gloo, 2 CPU processes) learns what one process with a twice larger batch learns."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from kryptonite.datasets.ingest import ingest
from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.datasets.synth import generate
from kryptonite.store.artifacts import LocalArtifactStore
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade

ROOT = Path(__file__).resolve().parents[3]
HOLDOUT = 10
#: positives after the holdout: 2048 -> 5 * 2048 samples = 10 batches of 1024 (no tail)
RATINGS = 2048 + HOLDOUT


def _train(tmp: Path, db: str, name: str, batch: int, nproc: int) -> Path:
    artifacts = tmp / name
    env = {k: v for k, v in os.environ.items() if not k.startswith("KRYPTONITE_")}
    env |= {
        "PYTHONPATH": str(ROOT / "services"),
        "KRYPTONITE_HOME": str(tmp / f"home-{name}"),
        "KRYPTONITE_DATABASE_URL": db,
        "KRYPTONITE_ARTIFACT_URI": str(artifacts),
        "KRYPTONITE_TRAIN_PROFILE": "small",
        "KRYPTONITE_NCF_BATCH_SIZE": str(batch),
        "KRYPTONITE_PROMOTION_HOLDOUT_USERS": str(HOLDOUT),
        "OMP_NUM_THREADS": "1",
    }
    head = [sys.executable, "-m", "kryptonite"]
    if nproc > 1:
        head = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
        head += [f"--nproc-per-node={nproc}", "-m", "kryptonite"]
    done = subprocess.run(
        [*head, "train", "--models", "ncf"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return artifacts


def test_two_gloo_ranks_match_one_process(tmp_path: Path) -> None:
    out = tmp_path / "synth-ddp"
    generate(out, users=100, movies=120, ratings=RATINGS, seed=11, progress=False)
    db = f"sqlite:///{tmp_path / 'kryptonite.sqlite'}"
    engine = create_sync_engine(db)
    upgrade(engine)
    ingest(engine, load_dataset(get_spec("synth-ddp"), out), "synth-ddp")
    engine.dispose()

    single = LocalArtifactStore(_train(tmp_path, db, "single", batch=1024, nproc=1))
    ddp = LocalArtifactStore(_train(tmp_path, db, "ddp", batch=512, nproc=2))

    (one, m1), (two, m2) = single.load("ncf"), ddp.load("ncf")
    assert len(ddp.versions("ncf")) == 1  # only rank 0 published
    assert m1.params["batch_size"] == 1024 and m2.params["batch_size"] == 512
    assert m1.data_fingerprint == m2.data_fingerprint
    users = np.arange(len(one.users))
    empty = sp.csr_matrix((len(users), len(one.items)), dtype=np.float32)
    a, b = one.score(users, empty), two.score(users, empty)
    assert np.allclose(a, b, atol=1e-3), float(np.abs(a - b).max())
    for k in ("hr@10", "ndcg@10"):
        assert m2.metrics["validation"][k] == pytest.approx(m1.metrics["validation"][k], abs=0.02)
