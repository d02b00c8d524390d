"""How cost grows with the number of checks in a scale sweep: the fitted exponent and the sweep's tables.

For each size, per approach: coverage, LM calls, tokens and wall time, and a growth exponent k
fitted as tokens = a * checks^k (least squares on the logs) over the sizes the approach ran. The
exponent is measured, not assumed: ReAct's re-read trajectory should put it near 2, and an RLM
that loops in code near 0 or 1.
"""

from __future__ import annotations

import math
import statistics
from typing import Callable

import numpy as np

from rlmbench.report.cells import hit_the_window
from rlmbench.report.tables import Table
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import TIME_PARTS, RunRecord


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """k in tokens = a * checks^k, least squares on log-log; None with fewer than two distinct sizes."""
    points = [(c, t) for c, t in points if c > 0 and t > 0]
    if len({c for c, _ in points}) < 2:
        return None
    x = np.log([c for c, _ in points])
    y = np.log([t for _, t in points])
    return float(np.polyfit(x, y, 1)[0])


def size_means(records: list[RunRecord], approach: str, value: Callable[[RunRecord], float],
               model: str | None = None) -> list[tuple[int, float]]:
    """(checks, mean of `value`) per size, over the runs without error of the approach (on one model)."""
    by_checks: dict[int, list[float]] = {}
    for r in records:
        if r.approach == approach and r.ok and (model is None or r.model == model):
            by_checks.setdefault(r.coverage.required, []).append(value(r))
    return sorted((c, statistics.fmean(v)) for c, v in by_checks.items())


def token_points(records: list[RunRecord], approach: str, model: str | None = None) -> list[tuple[int, float]]:
    """(checks, mean total tokens) per size: what the growth exponent is fitted to."""
    return size_means(records, approach, lambda r: r.total_tokens, model)


def growth_fits(records: list[RunRecord], approaches: list[str], models: list[str]) -> dict[str, dict[str, dict]]:
    """model -> approach -> the fitted exponent and the points it was fitted to."""
    out: dict[str, dict[str, dict]] = {}
    for model in models:
        out[model] = {}
        for a in approaches:
            points = token_points(records, a, model)
            out[model][a] = {"exponent": fit_exponent(points), "sizes": len(points),
                             "checks": [c for c, _ in points], "mean_tokens": [t for _, t in points]}
    return out


def _mean(values: list[float], fmt: str) -> str:
    return format(statistics.fmean(values), fmt) if values else "n/a"


def sweep_table(records: list[RunRecord], meta: RunMeta) -> Table:
    approaches, sizes, models = meta.approaches, meta.sweep.sizes, meta.labels
    rows = []
    several = len(models) > 1
    for size in sizes:
        for model in models:
            for a in approaches:
                runs = [r for r in records if r.case == size and r.approach == a and r.model == model]
                if runs:
                    rows.append((size, [*([model] if several else []), *_sweep_cells(runs, meta.label(a))]))
    header = ["Size", *(["Model"] if several else []), "Checks", "Approach", "OK", "Coverage", "LM calls", "Tokens",
              "Wall time"]
    return Table(header, rows)


def time_split_table(records: list[RunRecord], meta: RunMeta) -> Table | None:
    """Where the time of each code-orchestrating arm goes at each size (mean seconds per run without error):
    the model, DSPy's tool path on the host, the sandbox's side of the bridge, the task's tool functions, the
    rest (DSPy's modules and adapters, the harness). None when no such arm ran."""
    arms = [a.name for a in meta.arms if a.runs_code and not a.one_call_per_check]
    sizes, models = meta.sweep.sizes, meta.labels
    several = len(models) > 1
    rows = []
    for size in sizes:
        for model in models:
            for a in arms:
                runs = [r for r in records if r.case == size and r.approach == a and r.model == model and r.ok
                        and r.time_split is not None and r.time_split.parts(r.wall_time_s) is not None]
                if not runs:
                    continue
                parts = [r.time_split.parts(r.wall_time_s) for r in runs]
                mean = {key: statistics.fmean(p[key] for p in parts) for key, _ in TIME_PARTS}
                calls = statistics.fmean(r.time_split.bridged_calls or 0 for r in runs)
                bridge = mean["dspy_tool_path"] + mean["sandbox_round_trip"]
                rows.append((size, [*([model] if several else []), f"{runs[0].coverage.required:,}", meta.label(a),
                                    f"{statistics.fmean(r.wall_time_s for r in runs):.2f} s",
                                    *(f"{mean[key]:.3f} s" for key, _ in TIME_PARTS), f"{calls:,.0f}",
                                    f"{1e6 * bridge / calls:,.0f} us" if calls else "n/a"]))
    if not rows:
        return None
    header = ["Size", *(["Model"] if several else []), "Checks", "Approach", "Wall time",
              *(name for _, name in TIME_PARTS), "Bridged calls", "Bridge per call"]
    return Table(header, rows, title="Where the time goes, mean per run without error (model: the LM calls; "
                                     "dspy.Tool path: DSPy's host side of each tool call; sandbox: the model's code "
                                     "in Pyodide and each call's round trip; rest: DSPy's modules, adapters, harness):")


def fit_lines(records: list[RunRecord], meta: RunMeta) -> list[str]:
    """Each approach's fitted token growth, and the sizes an approach was skipped at."""
    models, label = meta.labels, meta.label
    several = len(models) > 1
    lines = ["Token growth, fitted as tokens = a * checks^k over the sizes each approach ran:"]
    for model, by_approach in growth_fits(records, meta.approaches, models).items():
        for a, fit in by_approach.items():
            name = f"{model}: {label(a)}" if several else label(a)
            k = fit["exponent"]
            span = (f"{fit['sizes']} sizes, {fit['checks'][0]:,}-{fit['checks'][-1]:,} checks" if fit["checks"]
                    else "no sizes")
            fitted = (f"  {name:<30} k = {k:.2f} ({span})" if k is not None and not math.isnan(k)
                      else f"  {name:<30} k = n/a ({span}; needs two sizes)")
            lines.append(fitted + _cliff([r for r in records if r.model == model and r.approach == a], meta))
    for a, names in meta.sweep.skipped.items():
        lines.append(f"{label(a)} skipped at {', '.join(names)}: more than --react-limit "
                     f"{meta.react_limit} checks, one LM call each.")
    return lines


def _cliff(runs: list[RunRecord], meta: RunMeta) -> str:
    """Where an approach's runs first met the context window (refused, or DSPy's ReAct truncating to fit): the
    smallest size; nothing where none did."""
    for size in meta.sweep.sizes:
        hit = [r for r in runs if r.case == size and hit_the_window(r)]
        if hit:
            return f"; first met the context window at {size} ({len(hit)} / {sum(r.case == size for r in runs)} runs)"
    return ""


def sweep_heading(meta: RunMeta) -> str:
    return (f"Task: {meta.task.name}, generated cases (size = {' x '.join(meta.task.lists)})   "
            f"Models: {', '.join(meta.labels)}   scale sweep, runs per size: {meta.runs}   "
            + meta.frameworks_text())


def _sweep_cells(runs: list[RunRecord], label: str) -> list[str]:
    ok = [r for r in runs if r.ok]
    return [f"{runs[0].coverage.required:,}", label, f"{len(ok)}/{len(runs)}",
            f"{100 * statistics.fmean(r.coverage.share for r in runs):.0f}%",
            _mean([r.lm_calls for r in runs], ",.0f"),
            _mean([r.total_tokens for r in runs], ",.0f"),
            _mean([r.wall_time_s for r in ok], ".2f") + (" s" if ok else "")]
