"""Evaluation reports: metrics.json, metrics.md and PNG plots (matplotlib, Agg)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLUMNS = ["hr@10", "ndcg@10", "recall@20", "mrr@10", "coverage@10", "fit_seconds"]


def markdown_table(report: dict[str, Any]) -> str:
    models = report["models"]
    extra = [c for c in ("rmse", "mae") if any(c in m for m in models.values())]
    cols = COLUMNS + extra
    lines = [
        f"# {report['dataset']}: {report['protocol']}",
        "",
        "| model | " + " | ".join(cols) + " |",
        "|---" * (len(cols) + 1) + "|",
    ]
    for name, row in models.items():
        cells = [_fmt(row.get(c)) for c in cols]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    for title, key in (("Sampled protocol (1 + 99 negatives)", "sampled"),):
        if report.get(key):
            lines += [
                "",
                f"## {title}",
                "",
                "| model | hr@10 | ndcg@10 | mrr@10 |",
                "|---|---|---|---|",
            ]
            for name, row in report[key].items():
                cells = " | ".join(_fmt(row[c]) for c in ("hr@10", "ndcg@10", "mrr@10"))
                lines.append(f"| {name} | {cells} |")
    if report.get("validation"):
        lines += [
            "",
            "## Validation (model selection)",
            "",
            "| model | ndcg@10 | hr@10 |",
            "|---|---|---|",
        ]
        for name, row in report["validation"].items():
            lines.append(f"| {name} | {_fmt(row['ndcg@10'])} | {_fmt(row['hr@10'])} |")
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def plot(report: dict[str, Any], out: Path) -> list[Path]:
    models = report["models"]
    names = list(models)
    paths = []
    for metric in ("ndcg@10", "hr@10", "fit_seconds"):
        fig, ax = plt.subplots(figsize=(8, 4))
        values = [models[n].get(metric) or 0.0 for n in names]
        ax.barh(names, values, color="#4472c4")
        ax.set_xlabel(metric)
        ax.set_title(f"{report['dataset']} — {metric}")
        ax.invert_yaxis()
        fig.tight_layout()
        path = out / f"{metric.replace('@', '_at_')}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


def write_report(report: dict[str, Any], out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(report, indent=2))
    (out / "metrics.md").write_text(markdown_table(report))
    plots = plot(report, out)
    return {
        "json": out / "metrics.json",
        "markdown": out / "metrics.md",
        **{p.stem: p for p in plots},
    }
