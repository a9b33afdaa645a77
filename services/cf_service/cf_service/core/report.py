"""Markdown report + PNG bar chart of an evaluation result (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cf_service.core.metrics import METRICS


def write_chart(result: dict[str, Any], png: str | Path) -> Path:
    """Grouped bar chart: one group per metric, one bar per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = list(result["models"])
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / max(1, len(models))
    for k, name in enumerate(models):
        values = [result["models"][name][m] for m in METRICS]
        xs = [i + (k - (len(models) - 1) / 2) * width for i in range(len(METRICS))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(METRICS)))
    ax.set_xticklabels(METRICS)
    ax.set_ylabel("score")
    ax.set_title(f"Ranking metrics over {result['n_users']} test users")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    out = Path(png)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_report(result: dict[str, Any], md: str | Path) -> Path:
    """Write ``md`` and ``<md stem>.png`` beside it."""
    md_path = Path(md)
    md_path.parent.mkdir(parents=True, exist_ok=True)
    png = write_chart(result, md_path.with_suffix(".png"))
    lines = [
        "# Collaborative filtering evaluation",
        "",
        f"{result['n_users']} test users; TRAIN: {result['train']['users']} users, "
        f"{result['train']['songs']} songs, {result['train']['listens']} listens. "
        "Every TRAIN song except the user's own is ranked; held-out songs absent from TRAIN are dropped.",
        "",
        "| model | NDCG@10 | Recall@20 | Recall@50 | MAP@500 | fit s | score s |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, m in result["models"].items():
        lines.append(
            f"| {name} | {m['ndcg@10']:.4f} | {m['recall@20']:.4f} | {m['recall@50']:.4f} | "
            f"{m['map@500']:.4f} | {m['fit_s']:.1f} | {m['score_s']:.2f} |"
        )
    lines += ["", f"![metrics]({png.name})", ""]
    params = result.get("params", {})
    if params:
        lines += ["## Chosen parameters", "", f"- vote weights: {params.get('weights')}, RRF k = {params.get('rrf_k')}"]
        for name, p in params.get("members", {}).items():
            lines.append(f"- {name}: {p}")
        lines.append("")
    tuning = result.get("tuning")
    if tuning:
        val = tuning["validation"]
        lines += [
            "## Validation (carved out of TRAIN)",
            "",
            f"{val['users']} validation users, {val['held_out']} held-out listens, tuning took {tuning['seconds']} s.",
            "",
            "Play-count transform, best validation NDCG@10 / MAP@500 per member:",
            "",
            "| member | transform | NDCG@10 | MAP@500 |",
            "|---|---|---|---|",
        ]
        for member, table in tuning["transform_choice"].items():
            for kind, m in table.items():
                lines.append(f"| {member} | {kind} | {m['ndcg@10']:.4f} | {m['map@500']:.4f} |")
        lines.append("")
    lines.append(f"Total evaluation time: {result.get('total_s', 0)} s.")
    md_path.write_text("\n".join(lines) + "\n")
    return md_path
