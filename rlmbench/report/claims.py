"""The study's claims, measured: a row for each count on which it says code orchestration beats one call per
step, a column per arm, every cell from this invocation's records.

The study names seven: enumeration, aggregation, branching, token cost, parallelism, error recovery and
state. A task exercises some of them: a cell whose feature the task (or the flags) did not exercise says
so, never a number, because a 0 there would read as a measurement.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Callable

from rlmbench.report.cells import recovery_cell
from rlmbench.report.rows import Row
from rlmbench.report.tables import Table
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.task import TaskSchema

NOT_EXERCISED = "not exercised"
NO_FOLLOW_UP = f"{NOT_EXERCISED}: no follow-up tool in this task"
NO_LATENCY = f"{NOT_EXERCISED}: the tools answer at once (give them a latency_ms, or --tool-latency)"
NO_FAULTS = f"{NOT_EXERCISED}: no tool fails (give them a transient_failure_rate, or --tool-faults)"
NO_FINDINGS = f"{NOT_EXERCISED}: no findings in this task (its tools look things up)"


@dataclass(frozen=True)
class Context:
    """What a claim's cell may read besides the arm's records."""

    schema: TaskSchema
    meta: RunMeta


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def enumeration(runs: list[RunRecord], ctx: Context) -> str:
    share = _mean([r.coverage.share for r in runs])
    return f"{sum(r.complete for r in runs)}/{len(runs)}, {share:.0%}"


def aggregation(runs: list[RunRecord], ctx: Context) -> str:
    if not ctx.schema.finding_tools:
        return NO_FINDINGS
    scored = [r.answer_score for r in runs if r.ok and r.answer_score is not None]
    if not scored:
        return "n/a (no typed answer)"
    right = sum(s.overall_risk == s.expected_risk for s in scored)
    severity = _mean([a for s in scored if (a := s.severity_agreement) is not None])
    return f"{right}/{len(scored)}" + (f", {severity:.0%}" if severity is not None else ", n/a")


def branching(runs: list[RunRecord], ctx: Context) -> str:
    if not ctx.schema.follow_up_tools:
        return NO_FOLLOW_UP
    entries = [f for r in runs for f in r.coverage.follow_ups or []]
    return (f"{sum(f.made for f in entries)}/{sum(f.required for f in entries)}, "
            f"{sum(f.wasted for f in entries)} wasted")


def token_cost(runs: list[RunRecord], ctx: Context) -> str:
    largest = [max(c.prompt_tokens for c in r.usage_per_call) for r in runs if r.usage_per_call]
    return f"{statistics.fmean(r.total_tokens for r in runs):,.0f}" + (
        f", {statistics.fmean(largest):,.0f}" if largest else ", n/a")


def parallelism(runs: list[RunRecord], ctx: Context) -> str:
    if not ctx.meta.tools.has_latency:
        return NO_LATENCY
    ok = [r for r in runs if r.ok and r.time_split is not None]
    if not ok:
        return "n/a (no run without error)"
    wall = statistics.fmean(r.wall_time_s for r in ok)
    in_tools = _mean([r.time_split.tools_s / r.wall_time_s for r in ok if r.wall_time_s])
    together = _mean([c for r in ok if (c := r.time_split.concurrency) is not None])
    return f"{wall:.2f} s, {in_tools:.0%}" + (f", x{together:.1f}" if together else ", n/a")


def error_recovery(runs: list[RunRecord], ctx: Context) -> str:
    if all(r.coverage.recovery is None for r in runs):
        return NO_FAULTS
    return recovery_cell(runs)


def state(runs: list[RunRecord], ctx: Context) -> str:
    if not ctx.schema.follow_up_tools:
        return NO_FOLLOW_UP
    shares = [s for r in runs if r.ok and r.answer_score and (s := r.answer_score.values_share) is not None]
    return f"{_mean(shares):.0%}" if shares else "n/a (no typed answer)"


def _follow_ups_made(r: RunRecord) -> float | None:
    entries = r.coverage.follow_ups or []
    required = sum(f.required for f in entries)
    return sum(f.made for f in entries) / required if required else None


def _recovered(r: RunRecord) -> float | None:
    recovery = r.coverage.recovery
    failed = recovery.recovered + len(recovery.lost) if recovery else 0
    return recovery.recovered / failed if failed else None


def _risk_right(r: RunRecord) -> float | None:
    s = r.answer_score
    return float(s.overall_risk == s.expected_risk) if r.ok and s is not None else None


@dataclass(frozen=True)
class Claim:
    """One claim: its row, the cell that shows it for one arm's runs, and the one number per run the verdict
    compares (verdict.py), with which way is better."""

    label: str
    cell: Callable[[list[RunRecord], Context], str]
    measure: Callable[[RunRecord], float | None]
    """The run's number for the verdict; None where the run does not say (no answer, nothing failed)."""
    measured: str
    """What that number is, as the verdict names it."""
    higher_is_better: bool
    unit: str = "share"
    """`share` (shown in points), `tokens` or `s`."""

    @property
    def name(self) -> str:
        return self.label.split(":")[0]


CLAIMS: tuple[Claim, ...] = (
    Claim("Enumeration: complete runs, mean coverage", enumeration, lambda r: r.coverage.share, "coverage", True),
    Claim("Aggregation: risk level right, severity agreement", aggregation, _risk_right, "risk level right", True),
    Claim("Branching: follow-ups made/required, wasted", branching, _follow_ups_made, "follow-ups made", True),
    Claim("Token cost: tokens per run, largest prompt", token_cost, lambda r: float(r.total_tokens),
          "tokens per run", False, "tokens"),
    Claim("Parallelism: wall time, share in tools, concurrency", parallelism,
          lambda r: r.wall_time_s if r.ok else None, "wall time", False, "s"),
    Claim("Error recovery: failed calls / recovered / lost", error_recovery, _recovered, "failed checks recovered",
          True),
    Claim("State: follow-up values exact", state,
          lambda r: r.answer_score.values_share if r.ok and r.answer_score else None, "follow-up values exact", True),
)
"""Each claim as its row reads it, the cell that measures it for one arm's runs, and its verdict's number."""


def exercised(claim: Claim, records: list[RunRecord], meta: RunMeta, schema: TaskSchema) -> bool:
    """Whether any arm's runs exercise the claim (its cell is a measurement, not `not exercised`)."""
    ctx = Context(schema, meta)
    return any(not claim.cell([r for r in records if r.approach == a], ctx).startswith(NOT_EXERCISED)
               for a in {r.approach for r in records})


def claims_table(records: list[RunRecord], meta: RunMeta, schema: TaskSchema) -> Table:
    ctx = Context(schema, meta)
    arms = [a for a in meta.approaches if any(r.approach == a for r in records)]
    rows: list[Row] = []
    why: list[str] = []
    for claim in CLAIMS:
        cells = [claim.cell([r for r in records if r.approach == a], ctx) for a in arms]
        if all(c.startswith(NOT_EXERCISED) for c in cells):  # the same reason in every arm: said once, below
            why.append(f"{claim.name.lower()}, {cells[0].removeprefix(NOT_EXERCISED + ': ')}")
            cells = [NOT_EXERCISED] * len(cells)
        rows.append((claim.label, cells))
    note = CLAIMS_NOTE + ("".join(f" Not exercised: {reason}." for reason in why))
    return Table(["Claim", *(meta.label(a) for a in arms)], rows, title="The study's claims, measured:", note=note)


CLAIMS_NOTE = ("Concurrency: the tool calls' durations added up over the span from the first call's start to the last "
               "one's end (1 or less: one call at a time, with gaps for the model). Share in tools: of the wall time, "
               "the time at least one tool call was running.")
