"""Benchmark: the offline pipeline at scale on synthetic MovieLens-shaped data.

    nice -n 10 python tests/benchmarks/bench_scale.py --ratings 1000000 \
        --out reports/scale/1m.json [--models popularity,item_ridge] [--ncf-epochs 1]

Per size: synthesize (users ~ 162k x N/25M, movies ~ 62k x (N/25M)^0.75, the ML-25M
shape at 25M), ingest into a fresh MariaDB database (``KRYPTONITE_TEST_MYSQL_URL``'s
server), read the training data back from it (time, peak RSS), then fit each production
model in its own process (time, peak RSS) and build the HNSW index over the implicit MF
item factors. Prints a table and writes JSON; docs/scale.md quotes the figures.
Not a pass/fail test (the file name keeps pytest from collecting it).
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ML25M_USERS, ML25M_MOVIES, ML25M_RATINGS = 162_541, 62_423, 25_000_095


def peak_rss_mib() -> float:
    """This process's peak RSS since exec (VmHWM; ru_maxrss would include the parent's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read_db(url: str, out: Path, result: Path) -> None:
    """Child process: the production reader on ``url``; pickle the TrainData to ``out``."""
    from kryptonite.pipeline.commands import load_db_train_data
    from kryptonite.store.engine import create_sync_engine

    engine = create_sync_engine(url)
    start, cpu = time.perf_counter(), time.process_time()
    data = load_db_train_data(engine, chunk_rows=200_000)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    with out.open("wb") as fh:
        pickle.dump(data, fh, protocol=pickle.HIGHEST_PROTOCOL)
    report = {"seconds": round(seconds, 1), "cpu_s": round(cpu, 1)}
    report["peak_rss_mib"] = round(peak_rss_mib())
    result.write_text(json.dumps(report))


def shape(ratings: int) -> tuple[int, int]:
    f = ratings / ML25M_RATINGS
    return max(100, round(ML25M_USERS * f)), max(100, round(ML25M_MOVIES * f**0.75))


def fit_one(frames: Path, name: str, ncf_epochs: int | None, out: Path) -> None:
    """Child process: fit one production model on the pickled TrainData."""
    from kryptonite.pipeline.train import production_models

    with frames.open("rb") as fh:
        data = pickle.load(fh)
    model = production_models()[name]()
    if name == "ncf" and ncf_epochs:
        model.params.epochs = ncf_epochs
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(data)
    seconds = time.perf_counter() - start
    result = {"seconds": round(seconds, 2), "peak_rss_mib": round(peak_rss_mib())}
    result["cpu_s"] = round(time.process_time() - cpu, 2)  # robust on a shared machine
    if name == "mf_implicit":
        import numpy as np

        from kryptonite.candidates.ann import AnnIndex

        start = time.perf_counter()
        rng = np.random.default_rng(0)
        queries = model.item_factors[rng.choice(len(model.item_factors), 200)]
        index = AnnIndex(model.item_factors, sample_queries=queries)
        result["ann_build_s"] = round(time.perf_counter() - start, 2)
        result["ann_recall"] = round(index.recall, 3)
        result["ann_items"] = len(model.item_factors)
    stats = getattr(model, "stats", None)
    if stats is not None:
        result["ncf_epochs"] = stats.epochs
        result["ncf_samples_per_s"] = round(stats.samples_per_second)
    if name == "item_ridge":
        result["item_ridge_support"] = len(model.support)
    out.write_text(json.dumps(result))


def run(args: argparse.Namespace) -> dict:
    from tests.conftest import create_mysql_database, drop_mysql_database

    from kryptonite.datasets.ingest import ingest
    from kryptonite.datasets.movielens import load_dataset
    from kryptonite.datasets.registry import get_spec
    from kryptonite.datasets.synth import generate
    from kryptonite.pipeline.train import production_models
    from kryptonite.store.migrate import upgrade

    users, movies = shape(args.ratings)
    report: dict = {"ratings": args.ratings, "users": users, "movies": movies, "models": {}}
    tmp = Path(tempfile.mkdtemp(prefix="kryptonite-scale-"))
    name = f"synth-scale{args.ratings}"
    start = time.perf_counter()
    generate(tmp / name, users=users, movies=movies, ratings=args.ratings, progress=False)
    report["synth_s"] = round(time.perf_counter() - start, 1)
    url, engine = create_mysql_database()
    try:
        upgrade(engine)
        start = time.perf_counter()
        frames = load_dataset(get_spec(name), tmp / name)
        report["parse_s"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        ingest(engine, frames, name)
        report["ingest_s"] = round(time.perf_counter() - start, 1)
        del frames
        pickled, read = tmp / "data.pkl", tmp / "read.json"
        cmd = [sys.executable, __file__, "--read", url, "--frames", str(pickled)]
        subprocess.run([*cmd, "--result", str(read)], check=True)
        got = json.loads(read.read_text())
        report["db_read_s"], report["db_read_cpu_s"] = got["seconds"], got["cpu_s"]
        report["db_read_peak_rss_mib"] = got["peak_rss_mib"]
    finally:
        engine.dispose()
        drop_mysql_database(url)
    names = args.models.split(",") if args.models else list(production_models())
    for model in names:
        out = tmp / f"{model}.json"
        cmd = [sys.executable, __file__, "--fit", model, "--frames", str(pickled)]
        cmd += ["--result", str(out)]
        if args.ncf_epochs:
            cmd += ["--ncf-epochs", str(args.ncf_epochs)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            report["models"][model] = {"error": done.stderr.strip().splitlines()[-1:]}
        else:
            report["models"][model] = json.loads(out.read_text())
        print(model, report["models"][model], flush=True)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--models", default="")
    parser.add_argument("--ncf-epochs", type=int, default=0)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--fit")
    parser.add_argument("--read")
    parser.add_argument("--frames", type=Path)
    parser.add_argument("--result", type=Path)
    args = parser.parse_args()
    if args.read:
        read_db(args.read, args.frames, args.result)
        return
    if args.fit:
        fit_one(args.frames, args.fit, args.ncf_epochs or None, args.result)
        return
    report = run(args)
    print(json.dumps(report, indent=1))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
