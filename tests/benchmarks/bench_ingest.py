"""Ingest rate into MariaDB vs MariaDB's own LOAD DATA LOCAL INFILE of the same rows.

For each data set (ml-latest-small and a synthetic 1M-rating set) it times, in one run:
  ours:      parse the files, validate, and ``ingest`` into a freshly migrated database;
  LOAD DATA: the very rows ours wrote, prepared as TSV beforehand (not timed), loaded
             table by table with ``LOAD DATA LOCAL INFILE`` into another fresh database.
Both databases have the same schema, indexes and foreign keys. Prints rows/s and the ratio.

    python tests/benchmarks/bench_ingest.py [--data-dir ../shared/data] [--synth-ratings 1000000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd
from sqlalchemy.engine import make_url

from kryptonite.datasets.ingest import ingest, table_rows
from kryptonite.datasets.movielens import load_dataset
from kryptonite.datasets.registry import get_spec
from kryptonite.datasets.synth import generate
from kryptonite.store.bulk import load_data_infile, to_tsv
from kryptonite.store.engine import create_sync_engine
from kryptonite.store.migrate import upgrade

SERVER = "mysql+pymysql://root@127.0.0.1:3306"


def fresh_database(server: str) -> str:
    name = f"kryptonite_bench_{uuid.uuid4().hex[:8]}"
    engine = create_sync_engine(server + "/mysql")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    engine.dispose()
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    upgrade(engine := create_sync_engine(url))
    engine.dispose()
    return url


def drop_database(server: str, url: str) -> None:
    engine = create_sync_engine(server + "/mysql")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{make_url(url).database}`")
    engine.dispose()


def bench_ours(server: str, name: str, folder: Path, extras: Path | None) -> tuple[int, float]:
    url = fresh_database(server)
    engine = create_sync_engine(url)
    try:
        started = time.perf_counter()
        frames = load_dataset(get_spec(name), folder, extras_dir=extras)
        result = ingest(engine, frames, name)
        seconds = time.perf_counter() - started
        return sum(result.counts.values()), seconds
    finally:
        engine.dispose()
        drop_database(server, url)


def bench_load_data(server: str, name: str, folder: Path, extras: Path | None) -> tuple[int, float]:
    frames = load_dataset(get_spec(name), folder, extras_dir=extras)
    rows = table_rows(frames)
    rows["genres"] = rows["genres"].assign(genre_id=range(1, len(rows["genres"]) + 1))
    ids = dict(zip(rows["genres"]["name"], rows["genres"]["genre_id"], strict=True))
    rows["movie_genres"] = pd.DataFrame(
        {
            "movie_id": rows["movie_genres"]["movie_id"],
            "genre_id": rows["movie_genres"]["name"].map(ids),
        }
    )
    url = fresh_database(server)
    engine = create_sync_engine(url)
    total = 0
    with tempfile.TemporaryDirectory() as tmp:
        paths = {}
        for table, frame in rows.items():
            paths[table] = os.path.join(tmp, f"{table}.tsv")
            to_tsv(frame, paths[table])
            total += len(frame)
        try:
            started = time.perf_counter()
            with engine.begin() as conn:
                for table, frame in rows.items():
                    if len(frame):
                        load_data_infile(conn, table, list(frame.columns), paths[table])
            seconds = time.perf_counter() - started
        finally:
            engine.dispose()
            drop_database(server, url)
    return total, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--server", default=SERVER, help="MariaDB URL without a database")
    parser.add_argument("--synth-ratings", type=int, default=1_000_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        synth_dir = Path(tmp) / "synth-1m"
        n = args.synth_ratings
        generate(synth_dir, users=max(n // 150, 10), movies=max(n // 100, 10), ratings=n, seed=7)
        cases = [
            ("ml-latest-small", args.data_dir / "ml-latest-small", args.data_dir),
            ("synth-1m", synth_dir, None),
        ]
        print(
            f"{'data set':<16} {'rows':>10} {'ours s':>8} {'ours rows/s':>12} "
            f"{'LOAD s':>8} {'LOAD rows/s':>12} {'ratio':>6}"
        )
        for name, folder, extras in cases:
            rows, ours = bench_ours(args.server, name, folder, extras)
            load_rows, load = bench_load_data(args.server, name, folder, extras)
            assert rows == load_rows, (rows, load_rows)
            ratio = (rows / ours) / (load_rows / load)
            print(
                f"{name:<16} {rows:>10,} {ours:>8.2f} {rows / ours:>12,.0f} "
                f"{load:>8.2f} {load_rows / load:>12,.0f} {ratio:>6.2f}"
            )
            sys.stdout.flush()


if __name__ == "__main__":
    main()
