"""Plot bench_scale.py results: fit time and peak RSS per model against ratings.

    python tests/benchmarks/plot_scale.py reports/scale/1m.json reports/scale/5m.json \
        --out docs/img/scale.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("reports", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    runs = sorted((json.loads(p.read_text()) for p in args.reports), key=lambda r: r["ratings"])
    models = sorted({m for r in runs for m, v in r["models"].items() if "seconds" in v})
    fig, (t_ax, m_ax) = plt.subplots(1, 2, figsize=(11, 4.2))
    for model in models:
        pts = [
            (r["ratings"], r["models"][model])
            for r in runs
            if "seconds" in r["models"].get(model, {})
        ]
        xs = [x / 1e6 for x, _ in pts]
        t_ax.plot(xs, [v["seconds"] for _, v in pts], marker="o", label=model)
        rss = [(x / 1e6, v["peak_rss_mib"] / 1024) for x, v in pts if v.get("peak_rss_mib")]
        if rss:  # only measured peaks (not the upper bounds a parent's RSS imposed)
            m_ax.plot(*zip(*rss, strict=True), marker="o", label=model)
    xs = [r["ratings"] / 1e6 for r in runs]
    t_ax.plot(xs, [r["ingest_s"] for r in runs], "k--", marker="s", label="ingest (MariaDB)")
    t_ax.plot(xs, [r["db_read_s"] for r in runs], "k:", marker="s", label="train read (DB)")
    for ax, label in ((t_ax, "seconds"), (m_ax, "peak RSS (GiB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("ratings (millions)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    m_ax.axhline(16, color="red", lw=1, label="16 GiB budget")
    t_ax.set_title("fit time per model (NCF: 1 epoch)")
    m_ax.set_title("peak RSS of the fitting process")
    m_ax.legend(fontsize=7, loc="upper left")
    t_ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=110)
    print(table(runs))


def table(runs: list[dict]) -> str:
    """Markdown: one row per step and model, one column group per size."""
    head = " | ".join(f"{r['ratings'] / 1e6:g}M wall s / CPU s / peak RSS GiB" for r in runs)
    lines = [f"| step | {head} |", "|---" * (len(runs) + 1) + "|"]
    shape = " | ".join(f"{r['users']:,} users × {r['movies']:,} movies" for r in runs)
    lines.append(f"| data | {shape} |")
    for key, label in (("ingest_s", "ingest into MariaDB"), ("db_read_s", "train read (DB)")):
        lines.append(f"| {label} | " + " | ".join(f"{r[key]:g}" for r in runs) + " |")
    models = sorted({m for r in runs for m in r["models"]})
    for model in models:
        cells = []
        for r in runs:
            v = r["models"].get(model)
            if v is None or "seconds" not in v:
                cells.append("not run" if v is None else "failed")
                continue
            cpu = f"{v['cpu_s']:g}" if "cpu_s" in v else "–"
            rss = (
                f"{v['peak_rss_mib'] / 1024:.2f}"
                if v.get("peak_rss_mib")
                else f"≤ {v['peak_rss_bound_mib'] / 1024:.2f}"
            )
            cells.append(f"{v['seconds']:g} / {cpu} / {rss}")
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    ann = [r["models"].get("mf_implicit", {}) for r in runs]
    lines.append(
        "| ANN build (HNSW) | "
        + " | ".join(
            f"{a['ann_build_s']:g} s, {a['ann_items']:,} items, recall {a['ann_recall']}"
            if "ann_build_s" in a
            else "not run"
            for a in ann
        )
        + " |"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
