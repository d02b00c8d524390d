"""An answer-size sweep's summary (`--tool-answer-tokens 0,2000`): tokens per run at each size, how much each arm
grows from the smallest size to the largest, and the cliff: the first size at which an arm's runs met the model's
context window (refused, or DSPy's ReAct truncating its trajectory to fit).

A step-wise arm shows the model every answer again at every later step, so its tokens grow with the answers'
size times its steps; a code arm keeps answers in variables and shows the model what its code prints.
"""

from __future__ import annotations

import statistics

from rlmbench.report.cells import hit_the_window, interval_cell
from rlmbench.report.rows import Row
from rlmbench.report.stats import mean_interval
from rlmbench.report.tables import Table
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import RunRecord


def _runs(records: list[RunRecord], approach: str, size: int) -> list[RunRecord]:
    return [r for r in records if r.approach == approach and r.tool_answer_tokens == size]


def _tokens(runs: list[RunRecord]) -> list[float]:
    return [float(r.total_tokens) for r in runs]


def answer_size_table(records: list[RunRecord], meta: RunMeta) -> Table:
    """Tokens per run (every run, a failed one's up to its failure), per answer size (rows) and arm (columns)."""
    arms, sizes = meta.approaches, meta.tools.answer_tokens_sweep
    rows: list[Row] = [(f"{size:,}", [interval_cell(mean_interval(_tokens(_runs(records, a, size))), "")
                                      for a in arms]) for size in sizes]
    return Table(["Answer tokens", *(meta.label(a) for a in arms)], rows,
                 title="Tokens per run per tool answer size (mean, 95% Student t interval):")


def _growth(records: list[RunRecord], approach: str, sizes: list[int]) -> str:
    first, last = _tokens(_runs(records, approach, sizes[0])), _tokens(_runs(records, approach, sizes[-1]))
    if not first or not last:
        return "n/a (no runs at one of the sizes)"
    return f"x{statistics.fmean(last) / statistics.fmean(first):,.1f}"


def _cliff(records: list[RunRecord], approach: str, sizes: list[int]) -> str:
    for size in sizes:
        runs = _runs(records, approach, size)
        hit = [r for r in runs if hit_the_window(r)]
        if hit:
            failed = sum(r.failure is not None and r.failure.category == "context_window" for r in hit)
            checks = statistics.fmean(r.coverage.covered for r in hit)
            return (f"at {size:,}: {len(hit)} / {len(runs)} runs (refused: {failed}, truncated: {len(hit) - failed}),"
                    f" {checks:,.0f} checks made first")
    return f"never, up to {sizes[-1]:,}"


def growth_table(records: list[RunRecord], meta: RunMeta) -> Table:
    """Per arm: tokens at the largest size over the smallest, and where its runs first met the window."""
    sizes = meta.tools.answer_tokens_sweep
    rows: list[Row] = [(meta.label(a), [_growth(records, a, sizes), _cliff(records, a, sizes)])
                       for a in meta.approaches]
    return Table(["Approach", f"Tokens, {sizes[-1]:,} over {sizes[0]:,}", "First met the context window"], rows,
                 title="How each arm's tokens grow with the answers, and where it meets the window:")
