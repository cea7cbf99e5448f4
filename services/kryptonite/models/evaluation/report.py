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
    for name, section in report.get("protocols", {}).items():
        lines += protocol_section(name, section, report.get("bootstrap", {}))
    if report.get("grid"):
        lines += grid_section(report["grid"])
    if report.get("errors"):
        lines += ["", "## Errors", ""]
        lines += [f"* **{name}**: {msg}" for name, msg in report["errors"].items()]
    return "\n".join(lines) + "\n"


def _ci(cell: dict[str, Any]) -> str:
    if "ci95" not in cell:
        return _fmt(cell.get("mean"))
    lo, hi = cell["ci95"]
    return f"{cell['mean']:.4f} [{lo:.4f}, {hi:.4f}]"


def protocol_section(name: str, section: dict[str, Any], boot: dict[str, Any]) -> list[str]:
    """Mean [95% CI] per metric, and each entry vs the best single model (NDCG@10)."""
    test = section.get("test", {})
    if not test:
        return []
    metrics = list(next(iter(test.values())))
    lines = [
        "",
        f"## {name}: {section.get('description', '')}",
        "",
        f"Mean [per-user bootstrap {int(100 * boot.get('level', 0.95))}% interval, "
        f"{boot.get('resamples', '?')} resamples]; paired: vs the best single model "
        f"(**{section.get('best_single')}**) on NDCG@10, difference [paired bootstrap CI], "
        "ratio of means, Wilcoxon p.",
        "",
        "| model | " + " | ".join(metrics) + " | vs best: ndcg@10 diff | ratio | p |",
        "|---" * (len(metrics) + 4) + "|",
    ]
    for model, row in test.items():
        cells = [_ci(row[m]) if m in row else "–" for m in metrics]
        cmp = section.get("paired", {}).get(model, {}).get("ndcg@10")
        if cmp:
            lo, hi = cmp["ci95"]
            ratio = f"{cmp['ratio']:.3f}" if cmp["ratio"] is not None else "–"
            tail = [f"{cmp['mean_diff']:+.4f} [{lo:+.4f}, {hi:+.4f}]", ratio]
            tail.append(f"{cmp['p_wilcoxon']:.3g}")
        else:
            tail = ["(best)" if model == section.get("best_single") else "–", "–", "–"]
        lines.append(f"| {model} | " + " | ".join(cells + tail) + " |")
    recall = section.get("candidate_recall", {})
    if recall:
        cols = list(next(iter(recall.values())))
        lines += [
            "",
            f"Stage-1 candidate recall ({name})",
            "",
            "| source | " + " | ".join(cols) + " |",
            "|---" * (len(cols) + 1) + "|",
        ]
        for model, row in recall.items():
            lines.append(f"| {model} | " + " | ".join(_ci(row[c]) for c in cols) + " |")
    return lines


def grid_section(grid: dict[str, list[dict[str, Any]]]) -> list[str]:
    """Every candidate's validation NDCG@10 on each protocol; the chosen one in bold."""
    lines = [
        "",
        "## Grid (validation NDCG@10 on both protocols; selected = best mean relative)",
        "",
        "| model | params | leave_last_out | random_75_25 | relative | selected |",
        "|---|---|---|---|---|---|",
    ]
    for model, rows in grid.items():
        for row in rows:
            scores = row["validation_ndcg@10"]
            params = ", ".join(f"{k}={v}" for k, v in row["params"].items() if k != "seed")
            cells = [_fmt(scores.get(p)) for p in ("leave_last_out", "random_75_25")]
            mark = "**yes**" if row["selected"] else ""
            lines.append(
                f"| {model} | {params} | " + " | ".join(cells) + f" | {row['relative']} | {mark} |"
            )
    return lines


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


def write_report(report: dict[str, Any], out: Path, *, plots: bool = True) -> dict[str, Path]:
    """metrics.json and metrics.md (written atomically), and the PNGs when ``plots``."""
    out.mkdir(parents=True, exist_ok=True)
    _atomic_write(out / "metrics.json", json.dumps(report, indent=2))
    _atomic_write(out / "metrics.md", markdown_table(report))
    pngs = plot(report, out) if plots else []
    return {
        "json": out / "metrics.json",
        "markdown": out / "metrics.md",
        **{p.stem: p for p in pngs},
    }


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
