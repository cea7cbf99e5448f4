"""Benchmark: taste coherence of each row for 8 personas x 2 forms (docs/models.md).

    nice -n 10 python tests/benchmarks/bench_personas.py [--dataset ml-latest-small]
        [--data-dir ../shared/data] [--out personas.md]

Fits the single models (popularity, content, item2item, mf_implicit, item_ridge) on all of
the data set and prints the Markdown table of ``models/evaluation/personas.py``. To score
the served blend, pass its ``recommend(query) -> {row: [movie ids]}`` to
``personas.benchmark(data, recommend)``. Prints figures; not a pass/fail test.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from kryptonite.models.evaluation import personas
from kryptonite.pipeline.commands import load_train_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    start = time.perf_counter()
    data = load_train_data(args.dataset, args.data_dir)
    table = personas.benchmark(data)
    print(table)
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.out:
        args.out.write_text(table)


if __name__ == "__main__":
    main()
