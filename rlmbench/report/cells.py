"""One cell of the summary: an arm's runs turned into the text a reader compares across arms.

Every cell is computed from the run records of this invocation; a figure that was not measured is "n/a" or "not
exercised", never estimated, and never a 0 that would read as a measurement.
"""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Callable

from rlmbench.report.stats import Interval, mean_interval, pass_hat_k, wilson_interval
from rlmbench.results.records import RunRecord
from rlmbench.words import counted


def mean_sd(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f} {unit} (n=1, no sd)"
    return f"{mean:.{digits}f} +/- {statistics.stdev(values):.{digits}f} {unit}"


def mean_int(values: list[int]) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    low, high = min(values), max(values)
    return f"{mean:,.0f}" if low == high else f"{mean:,.0f} ({low:,}-{high:,})"


def coverage_cell(records: list[RunRecord], tool: str) -> str:
    cells = []
    for r in records:
        entry = r.coverage.of(tool)
        cells.append(("n/a" if entry is None else f"{entry.covered}/{entry.required}") + ("" if r.ok else "*"))
    return runs_listed(cells)


def sandbox_boot_cell(records: list[RunRecord]) -> str:
    boots = [r.sandbox_boot_s for r in records if r.sandbox_boot_s is not None]
    if not boots:
        return "n/a (no sandbox)"
    kinds = sorted({r.sandbox_boot_kind for r in records if r.sandbox_boot_kind})
    return mean_sd(boots) + (f", {'+'.join(kinds)}" if kinds else "")


def sandbox_boot_label(records: list[RunRecord]) -> str:
    """Whether the boot is inside the wall times, said once in the row's label."""
    inside = any(r.sandbox_boot_in_wall_time for r in records)
    return f"Sandbox boot per run ({'in wall time: --cold-sandbox' if inside else 'not in wall time'})"


def idle_wait_cell(records: list[RunRecord]) -> str:
    """The waits for a local server to finish a cut run's call: `1 run, 5.20 s`; a wait that gave up is named."""
    waits = [r.idle_wait for r in records if r.idle_wait is not None]
    if not waits:
        return "none"
    text = f"{counted(len(waits), 'run')}, {sum(w.waited_s for w in waits):.2f} s"
    shared = [f"run {r.run}" for r in records if r.idle_wait is not None and not r.idle_wait.confirmed]
    return text + (f"; server not idle, may be shared with a cut call: {', '.join(shared)}" if shared else "")


def notable_failure(records: list[RunRecord]) -> str:
    failures = [r.failure for r in records if r.failure]
    if not failures:
        return "none"
    category, count = Counter(f.category for f in failures).most_common(1)[0]
    example = next(f for f in failures if f.category == category)
    message = " ".join(example.message.split())[:90]
    return f"{category} x{count}: {example.type}: {message}"


def failure_counts(records: list[RunRecord]) -> str:
    counts = Counter(r.failure.category for r in records if r.failure)
    return ", ".join(f"{category} {n}" for category, n in counts.most_common()) or "none"


def percent_cell(records: list[RunRecord], value: Callable[[RunRecord], float | None]) -> str:
    """Mean of a per-run ratio over the runs that have one, as a percentage; n/a when none do."""
    values = [v for r in records if (v := value(r)) is not None]
    if not values:
        return "n/a"
    return f"{100 * statistics.fmean(values):.0f}%" + ("" if len(values) == len(records) else f" ({counted(len(values), 'run')})")


def scored_runs(records: list[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.answer_score is not None]


def recall_precision_cell(records: list[RunRecord], tool: str) -> str:
    scored = scored_runs(records)
    recall = percent_cell(scored, lambda r: r.answer_score.of(tool).recall)
    precision = percent_cell(scored, lambda r: r.answer_score.of(tool).precision)
    return "n/a" if recall == precision == "n/a" else f"{recall} / {precision}"


def risk_cell(records: list[RunRecord]) -> str:
    scored = [r.answer_score for r in scored_runs(records)]
    if not scored:
        return "n/a"
    return f"{sum(s.overall_risk == s.expected_risk for s in scored)} / {len(scored)}"


def follow_up_cell(records: list[RunRecord], tool: str) -> str:
    """Per run, follow-ups made / required, with the wasted ones: `4/4, 0 wasted x3`."""
    cells = []
    for r in records:
        entry = next((f for f in r.coverage.follow_ups or [] if f.tool == tool), None)
        cells.append("n/a" if entry is None else f"{entry.made}/{entry.required}, {entry.wasted} wasted"
                     + ("" if r.ok else "*"))
    return runs_listed(cells)


NO_FAILED_CALL = "not exercised: no call failed"
"""Tools could fail, but these runs never called a check drawn to fail (no tool call at all, say): a 0 / 0 / 0 there
would read as a perfect recovery."""


def recovery_cell(records: list[RunRecord]) -> str:
    """Transient failures summed over the runs, `failed calls / checks recovered / checks lost`: `15 / 15 / 0`;
    where no tool could fail, or no call failed, not exercised."""
    seen = [r.coverage.recovery for r in records if r.coverage.recovery is not None]
    if not seen:
        return "not exercised: no tool fails"
    if not any(s.failures for s in seen):
        return NO_FAILED_CALL
    return f"{sum(s.failures for s in seen)} / {sum(s.recovered for s in seen)} / {sum(len(s.lost) for s in seen)}"


def largest_prompt_cell(records: list[RunRecord], window: int | None = None) -> str:
    """The largest prompt of a run, mean over the runs; against the model's window where it is known
    (`2,302 (2% of 131,072)`)."""
    largest = [max(c.prompt_tokens for c in r.usage_per_call) for r in records if r.usage_per_call]
    if not largest or window is None:
        return mean_int(largest)
    return f"{mean_int(largest)} ({statistics.fmean(largest) / window:.0%} of {window:,})"


def hit_the_window(record: RunRecord) -> bool:
    """The run met its model's context window: refused as context_window, or DSPy's ReAct truncated to fit it."""
    return (record.failure is not None and record.failure.category == "context_window") or bool(
        record.diagnostics.trajectories_truncated)


def runs_with(records: list[RunRecord], where: Callable[[RunRecord], list | None]) -> str:
    """A diagnostic over the runs: how often it happened, in how many of the runs where it could be
    detected (a timed-out RLM run cannot say whether it would have called SUBMIT); n/a where none could."""
    applicable = [r for r in records if where(r) is not None]
    if not applicable:
        return "n/a"
    hits = [len(where(r)) for r in applicable]
    runs = sum(n > 0 for n in hits)
    return "0" if not runs else f"{sum(hits):,} in {runs} / {len(applicable)} runs"


def runs_listed(values: list[str]) -> str:
    """Per-run values, equal neighbours folded: `21/21 x9, 18/21*`."""
    groups: list[list] = []
    for value in values:
        if groups and groups[-1][0] == value:
            groups[-1][1] += 1
        else:
            groups.append([value, 1])
    return ", ".join(value + (f" x{n}" if n > 1 else "") for value, n in groups) or "n/a"


def steps_cell(records: list[RunRecord]) -> str:
    """Steps used / limit per run; `*` marks a failed run, whose steps were counted from its log."""
    def used(r: RunRecord) -> str:
        limit = r.diagnostics.step_limit
        return f"{r.diagnostics.steps_used}" + (f"/{limit}" if limit is not None else " (no limit of ours)")
    return runs_listed([used(r) + ("" if r.ok else "*") for r in records if r.diagnostics.steps_used is not None])


def hit_limit_cell(records: list[RunRecord]) -> str:
    """Runs that used up their steps, among those where it is known; a run that ended before the limit could
    be known (timed out, failed) is left out and named."""
    known = [r for r in records if r.diagnostics.hit_step_limit is not None]
    unknown = Counter(r.failure.category if r.failure else "no trace" for r in records
                      if r.diagnostics.hit_step_limit is None)
    why = ", ".join(f"{n} {'timed out' if category == 'timeout' else category}" for category, n in unknown.items())
    if not known:
        return f"n/a ({why})" if why else "n/a"
    return f"{sum(r.diagnostics.hit_step_limit for r in known)} / {len(known)}" + (f" ({why}: n/a)" if why else "")




def number_text(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f}"
    if unit == "$":
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.2f}"
    return f"{value:,.0f}"


def interval_cell(interval: Interval | None, unit: str) -> str:
    """`8.30 s [5.07, 11.53]`; with one run, no interval; n/a without values."""
    if interval is None:
        return "n/a"
    prefix, suffix = ("$", "") if unit == "$" else ("", f" {unit}" if unit else "")
    text = f"{prefix}{number_text(interval.mean, unit)}{suffix}"
    if not interval.has_interval:
        return text + " (n=1, no interval)"
    return text + f" [{number_text(interval.low, unit)}, {number_text(interval.high, unit)}]"


def rate_cell(successes: int, n: int) -> str:
    """`2 / 3 [21%, 94%]`: k / N with a 95% Wilson interval."""
    interval = wilson_interval(successes, n)
    if interval is None:
        return "n/a"
    return f"{successes} / {n} [{100 * interval[0]:.0f}%, {100 * interval[1]:.0f}%]"


def pass_k_cell(records: list[RunRecord]) -> str:
    n, complete = len(records), sum(r.complete for r in records)
    if not n:
        return "n/a"
    return ", ".join(f"k={k} {100 * pass_hat_k(complete, n, k):.0f}%" for k in range(1, n + 1))


def cost_cell(records: list[RunRecord], priced: bool) -> str:
    if not priced:
        return "n/a (no price)"
    return interval_cell(mean_interval([r.cost_usd for r in records if r.cost_usd is not None]), "$")


def unanswered_cell(records: list[RunRecord]) -> str:
    """LM requests of an arm's runs that got no answer: failed ones, and ones cut at the budget (the call log's)."""
    failed, cut = sum(r.lm_calls_failed for r in records), sum(r.lm_calls_cut for r in records)
    return f"{failed} / {cut}" + (f" in {len(records)} runs" if len(records) > 1 else "")
