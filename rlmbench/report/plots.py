"""PNG charts of a results file: what a reader looks at before the table.

- `<results>.png`: coverage, tokens and wall time per approach (the task's own lists).
- `<results>.png` for a sweep: tokens and LM calls against the number of required checks, on
  log-log axes, with each approach's fitted growth exponent in its legend.
Every chart names the task and the model, and carries the task's data notice; an oracle chart
says in its title that it shows architecture cost only.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import matplotlib

matplotlib.use("Agg")  # files only, never a window
import matplotlib.pyplot as plt  # noqa: E402

from rlmbench.report.growth import fit_exponent, size_means, token_points  # noqa: E402
from rlmbench.report.tables import checks_described  # noqa: E402
from rlmbench.results.meta import RunMeta  # noqa: E402
from rlmbench.results.records import RunRecord  # noqa: E402
from rlmbench.tasks.task import TaskSchema  # noqa: E402
from rlmbench.words import counted  # noqa: E402


def _title(meta: RunMeta, what: str, schema: TaskSchema) -> str:
    names = meta.labels
    oracle = any(m.is_oracle for m in meta.models)
    suffix = " (offline oracle: architecture cost only, not model quality)" if oracle else ""
    return f"{what}, task {schema.name}: {', '.join(names)}{suffix}\n{schema.notice}"


COLOURS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def _value_label(value: float, compact: bool) -> str:
    """The number over a bar; compact (98k, 1.2M) where bars stand side by side and full figures collide."""
    if compact and value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if compact and value >= 1e4:
        return f"{value / 1e3:.0f}k"
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def _bars(ax, labels: list[str], groups: dict[str, list[list[float]]], ylabel: str, errors: bool = False) -> None:
    """One group of bars per approach, one bar per model in it (mean, with sd bars where asked)."""
    width = 0.8 / len(groups)
    for i, (model, values) in enumerate(groups.items()):
        x = [j - 0.4 + width * (i + 0.5) for j in range(len(labels))]
        means = [statistics.fmean(v) if v else 0.0 for v in values]
        sds = [statistics.stdev(v) if errors and len(v) > 1 else 0.0 for v in values]
        bars = ax.bar(x, means, width, yerr=sds if errors else None, capsize=4, color=COLOURS[i % len(COLOURS)],
                      label=model)
        for bar, v, mean, sd in zip(bars, values, means, sds):
            ax.annotate("n/a" if not v else _value_label(mean, compact=len(groups) > 1),
                        (bar.get_x() + bar.get_width() / 2, mean + sd), xytext=(0, 2), textcoords="offset points",
                        ha="center", va="bottom", fontsize=7 if len(groups) > 1 else 8)  # above the error bar
    ax.set_xticks(range(len(labels)), labels)
    ax.margins(y=0.12)
    ax.set_ylabel(ylabel)
    ax.tick_params(axis="x", labelsize=8)
    if len(groups) > 1:
        ax.legend(fontsize=7, frameon=False)


@dataclass(frozen=True)
class Panel:
    """One bar chart of the benchmark's figure: per model, per approach, the runs' values."""

    ylabel: str
    groups: dict[str, list[list[float]]]
    errors: bool = False
    top: float | None = None

    @property
    def has_data(self) -> bool:
        return any(values for per_arm in self.groups.values() for values in per_arm)


def benchmark_panels(records: list[RunRecord], approaches: list[str], meta: RunMeta) -> list[Panel]:
    """Coverage, tokens and wall time; a panel with no value at all (wall time when no run ended without
    error) is left out rather than drawn empty."""
    models = meta.labels
    by = {(m, a): [r for r in records if r.approach == a and r.model == m] for m in models for a in approaches}

    def groups(value, only_ok: bool = False) -> dict[str, list[list[float]]]:
        return {m: [[value(r) for r in by[(m, a)] if r.ok or not only_ok] for a in approaches] for m in models}

    return [Panel("checks covered per run (%)", groups(lambda r: 100 * r.coverage.share), top=115),
            Panel("tokens per run (prompt + completion)", groups(lambda r: r.total_tokens)),
            Panel("wall time per run without error (s), mean and sd", groups(lambda r: r.wall_time_s, only_ok=True),
                  errors=True)]


def _benchmark_chart(records: list[RunRecord], approaches: list[str], meta: RunMeta, out: BinaryIO,
                     schema: TaskSchema) -> None:
    labels = [meta.label(a).replace(" + ", "\n+ ") for a in approaches]
    panels = benchmark_panels(records, approaches, meta)
    drawn = [p for p in panels if p.has_data]
    fig, axes = plt.subplots(1, len(drawn), figsize=(14 * len(drawn) / 3, 4.8), squeeze=False)
    for ax, panel in zip(axes[0], drawn):
        _bars(ax, labels, panel.groups, panel.ylabel, errors=panel.errors)
        if panel.top is not None:
            ax.set_ylim(0, panel.top)
    missing = [p.ylabel.split(" (")[0] for p in panels if not p.has_data]
    what = f"{counted(meta.runs, 'run')} per approach"
    fig.suptitle(_title(meta, what + (f"; no data, no panel: {', '.join(missing)}" if missing else ""), schema),
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)


STYLES = ("o-", "s--", "^-.", "D:")  # distinct even where two approaches' lines coincide


def _sweep_chart(records: list[RunRecord], approaches: list[str], meta: RunMeta, out: BinaryIO,
                 schema: TaskSchema) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(13, 6))
    models = meta.labels
    lines = [(m, a) for m in models for a in approaches]
    for (model, a), style in zip(lines, STYLES * len(lines)):
        points = token_points(records, a, model)
        if not points:
            continue
        k = fit_exponent(points)
        name = f"{model}: {meta.label(a)}" if len(models) > 1 else meta.label(a)
        legend = name + (f" (k = {k:.2f})" if k is not None else "")
        axes[0].plot([c for c, _ in points], [t for _, t in points], style, label=legend, markersize=7, alpha=0.85)
        calls = size_means(records, a, lambda r: r.lm_calls, model)
        axes[1].plot([c for c, _ in calls], [n for _, n in calls], style, label=name, markersize=7, alpha=0.85)
    for ax, ylabel in ((axes[0], "tokens per run (prompt + completion)"), (axes[1], "LM calls per run")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(f"required checks ({checks_described(schema)})")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=2, frameon=False)
    axes[0].set_title("tokens = a * checks^k, k fitted per approach", fontsize=9)
    fig.suptitle(_title(meta, "Scale sweep", schema), fontsize=10)
    fig.tight_layout()
    fig.savefig(out, format="png", dpi=110)
    plt.close(fig)


def chart_png(records: list[RunRecord], meta: RunMeta, schema: TaskSchema) -> bytes:
    """The invocation's chart as PNG bytes: the file --plot writes, and the image the HTML page embeds."""
    out = io.BytesIO()
    (_sweep_chart if meta.sweep else _benchmark_chart)(records, meta.approaches, meta, out, schema)
    return out.getvalue()


def write_chart(path: Path, records: list[RunRecord], meta: RunMeta, schema: TaskSchema) -> Path:
    """--plot: the chart as a PNG file beside the results."""
    path.write_bytes(chart_png(records, meta, schema))
    return path
