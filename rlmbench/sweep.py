"""The scale sweep: the same benchmark on generated patients of growing size, and how cost grows.

For each size (drugs x conditions) every approach runs N times on a generated database with
known ground truth. The summary gives, per approach and size, coverage, LM calls, tokens and
wall time, and a growth exponent k fitted as tokens = a * checks^k (least squares on the logs)
over the sizes the approach ran. The exponent is measured, not assumed: ReAct's re-read
trajectory should put it near 2, and an RLM that loops in code near 0 or 1.

Approaches that make one LM call per check (ReAct and the hybrid's executor) are skipped above
`react_limit` checks: at 2,225 checks that is 2,225 LM calls per run with prompts that no
hosted context window holds. The skip is printed, never silent.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np

from rlmbench.approaches import APPROACH_LABELS, SANDBOX_APPROACHES, ApproachConfig, Case
from rlmbench.report import covered_share, render_table, required_checks
from rlmbench.runner import RunRecord, run_benchmark
from rlmbench.sandbox import SandboxSupply
from rlmbench.synthetic import Size, synthetic_scenario

STEPWISE_APPROACHES = frozenset({"react", "hybrid"})  # one LM call per check
DEFAULT_REACT_LIMIT = 300
STEP_HEADROOM = 5  # the default case gives ReAct 40 steps for 35 checks; the sweep keeps that rule


@dataclass
class SweepResult:
    skipped: dict[str, list[str]]  # approach -> sizes it did not run
    interrupted: bool


def planned_runs(approaches: list[str], sizes: tuple[Size, ...], react_limit: int) -> dict[str, list[Size]]:
    return {a: [s for s in sizes if a not in STEPWISE_APPROACHES or s.checks <= react_limit] for a in approaches}


def run_sweep(approaches: list[str], sizes: tuple[Size, ...], runs: int, lm, config: ApproachConfig,
              on_record, sandboxes: SandboxSupply | None, seed: int = 0, react_limit: int = DEFAULT_REACT_LIMIT,
              timeout: float | None = None, concurrency: int = 1) -> SweepResult:
    plan = planned_runs(approaches, sizes, react_limit)
    if sandboxes is not None:
        sandboxes.expect(runs * sum(len(plan[a]) for a in approaches if a in SANDBOX_APPROACHES))
    for size in sizes:
        chosen = [a for a in approaches if size in plan[a]]
        if not chosen:
            continue
        scenario = synthetic_scenario(size, seed)
        case = Case(list(scenario.medications), list(scenario.conditions))
        size_config = replace(config, react_max_iters=size.checks + STEP_HEADROOM)

        def tagged(record: RunRecord, trace: dict, size: Size = size) -> None:
            record.case = str(size)
            on_record(record, {"case": str(size), **trace})

        _, interrupted = run_benchmark(chosen, runs, case, lm, size_config, tagged, scenario=scenario,
                                       sandboxes=sandboxes, timeout=timeout, concurrency=concurrency,
                                       expect_sandboxes=False)
        if interrupted:
            return SweepResult(_skipped(plan, sizes), True)
    return SweepResult(_skipped(plan, sizes), False)


def _skipped(plan: dict[str, list[Size]], sizes: tuple[Size, ...]) -> dict[str, list[str]]:
    return {a: [str(s) for s in sizes if s not in ran] for a, ran in plan.items() if len(ran) < len(sizes)}


def fit_exponent(points: list[tuple[int, float]]) -> float | None:
    """k in tokens = a * checks^k, least squares on log-log; None with fewer than two distinct sizes."""
    points = [(c, t) for c, t in points if c > 0 and t > 0]
    if len({c for c, _ in points}) < 2:
        return None
    x = np.log([c for c, _ in points])
    y = np.log([t for _, t in points])
    return float(np.polyfit(x, y, 1)[0])


def size_means(records: list[RunRecord], approach: str,
               value: Callable[[RunRecord], float]) -> list[tuple[int, float]]:
    """(checks, mean of `value`) per size, over the successful runs of the approach."""
    by_checks: dict[int, list[float]] = {}
    for r in records:
        if r.approach == approach and r.ok:
            by_checks.setdefault(required_checks(r), []).append(value(r))
    return sorted((c, statistics.fmean(v)) for c, v in by_checks.items())


def token_points(records: list[RunRecord], approach: str) -> list[tuple[int, float]]:
    """(checks, mean total tokens) per size: what the growth exponent is fitted to."""
    return size_means(records, approach, lambda r: r.prompt_tokens + r.completion_tokens)


def fits(records: list[RunRecord], approaches: list[str]) -> dict[str, dict]:
    out = {}
    for a in approaches:
        points = token_points(records, a)
        out[a] = {"exponent": fit_exponent(points), "sizes": len(points),
                  "checks": [c for c, _ in points], "mean_tokens": [t for _, t in points]}
    return out


def _mean(values: list[float], fmt: str) -> str:
    return format(statistics.fmean(values), fmt) if values else "n/a"


def render_sweep(records: list[RunRecord], approaches: list[str], sizes: tuple[Size, ...],
                 skipped: dict[str, list[str]], react_limit: int) -> str:
    rows = []
    for size in sizes:
        for a in approaches:
            runs = [r for r in records if r.case == str(size) and r.approach == a]
            if not runs:
                continue
            ok = [r for r in runs if r.ok]
            covered = [covered_share(r) for r in runs]
            rows.append((str(size), [
                str(size.checks), APPROACH_LABELS[a], f"{len(ok)}/{len(runs)}",
                f"{100 * statistics.fmean(covered):.0f}%",
                _mean([r.lm_calls for r in runs], ",.0f"),
                _mean([r.prompt_tokens + r.completion_tokens for r in runs], ",.0f"),
                _mean([r.wall_time_s for r in ok], ".2f") + (" s" if ok else ""),
            ]))
    table = render_table(["Size", "Checks", "Approach", "OK", "Coverage", "LM calls", "Tokens", "Wall time"], rows)
    lines = [table, "", "Token growth, fitted as tokens = a * checks^k over the sizes each approach ran:"]
    for a, fit in fits(records, approaches).items():
        k = fit["exponent"]
        span = f"{fit['sizes']} sizes, {fit['checks'][0]:,}-{fit['checks'][-1]:,} checks" if fit["checks"] else "no sizes"
        lines.append(f"  {APPROACH_LABELS[a]:<30} k = {k:.2f} ({span})" if k is not None and not math.isnan(k)
                     else f"  {APPROACH_LABELS[a]:<30} k = n/a ({span}; needs two sizes)")
    for a, names in skipped.items():
        lines.append(f"{APPROACH_LABELS[a]} skipped at {', '.join(names)}: more than --sweep-react-limit "
                     f"{react_limit} checks, one LM call each.")
    return "\n".join(lines)
