"""Benchmark: fit time of every production model on a data set, and NCF samples/s.

    nice -n 10 python tests/benchmarks/bench_models.py [--dataset ml-latest-small]
        [--data-dir ../shared/data] [--threads 2]

Prints figures; not a pass/fail test (the file name keeps pytest from collecting it).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from kryptonite.pipeline.commands import load_train_data
from kryptonite.pipeline.train import production_models, train_all


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    data = load_train_data(args.dataset, args.data_dir)
    print(f"load {args.dataset}: {time.perf_counter() - start:.1f}s, {len(data.ratings)} ratings")
    trained = train_all(data, None, models=production_models(), progress=False)
    total = 0.0
    print(f"{'model':14s} {'fit_s':>8s}")
    for t in trained:
        total += t.fit_seconds
        print(f"{t.name:14s} {t.fit_seconds:8.2f}")
        stats = getattr(t.model, "stats", None)
        if stats is not None:
            print(f"{'':14s} NCF {stats.samples_per_second:,.0f} samples/s "
                  f"({stats.samples:,} samples, {stats.epochs} epochs)")  # fmt: skip
    print(f"{'all models':14s} {total:8.2f}  (torch threads={args.threads})")


if __name__ == "__main__":
    main()
