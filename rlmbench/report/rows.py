"""The rows of an arm-by-arm summary, declared once, in the order a reader sees them.

Each row is an entry of SUMMARY_ROWS: its label, the cell it computes from one arm's runs, when it is shown, and
whether it scores the answer against the ground truth (where there is none, those rows fold into one row that says
why). The text summary and the page both read this table; a new row is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from rlmbench.report.cells import (
    cost_cell,
    coverage_cell,
    failure_counts,
    follow_up_cell,
    hit_limit_cell,
    hit_the_window,
    idle_wait_cell,
    interval_cell,
    largest_prompt_cell,
    mean_int,
    mean_sd,
    notable_failure,
    pass_k_cell,
    percent_cell,
    rate_cell,
    recall_precision_cell,
    recovery_cell,
    risk_cell,
    runs_with,
    sandbox_boot_cell,
    sandbox_boot_label,
    scored_runs,
    steps_cell,
    unanswered_cell,
)
from rlmbench.report.stats import mean_interval
from rlmbench.results.records import RunRecord
from rlmbench.tasks.task import TaskSchema, ToolSpec, check_scope

Row = tuple[str, list[str]]


@dataclass(frozen=True)
class ArmRuns:
    """One arm's runs, as a cell reads them."""

    all: list[RunRecord]
    ok: list[RunRecord]
    """The runs that ended without an error: what the figures of a finished answer are computed over."""


@dataclass(frozen=True)
class RowContext:
    """What decides whether a row is shown, and what it is called."""

    records: list[RunRecord]
    """Every arm's runs."""
    schema: TaskSchema
    paced: bool
    """--tpm was given: the pacing wait is inside the wall time."""
    priced: bool
    """The model has a price: cost rows carry figures."""
    window: int | None = None
    """The model's context window in tokens (lm.windows), where it is known."""


Cell = Callable[[ArmRuns, RowContext, "ToolSpec | None"], str]


@dataclass(frozen=True)
class SummaryRow:
    label: str | Callable[[RowContext, "ToolSpec | None"], str]
    cell: Cell
    shown: Callable[[RowContext], bool] = lambda ctx: True
    per_tool: Callable[[TaskSchema], tuple[ToolSpec, ...]] | None = None
    """A row for each of these tools (the cell and label get the tool); None: one row."""
    scores_answer: bool = False
    """Scores the answer against the ground truth: folded into one row (UNSCORED) where there is none."""


def coverage_label(schema: TaskSchema, tool: ToolSpec) -> str:
    scopes = [check_scope(t) for t in schema.required_tools]
    scope = check_scope(tool)
    return f"Coverage, {scope}" + (f" ({tool.name})" if scopes.count(scope) > 1 else "")


def _share(runs: list[RunRecord], test: Callable[[RunRecord], bool]) -> str:
    return f"{sum(test(r) for r in runs)} / {len(runs)}"


def _mean_of_scored(runs: ArmRuns, value: Callable[[RunRecord], int]) -> str:
    scored = scored_runs(runs.ok)
    return mean_int([value(r) for r in scored]) if scored else "n/a"


def _no_answer(r: RunRecord) -> bool:
    return r.outcome == "no_answer"


def _answer_tokens_cell(records: list[RunRecord]) -> str:
    """The mean answer's size over the runs whose tools answered; n/a where none did."""
    sizes = [x.answer_tokens_per_call for x in records if x.answer_tokens_per_call is not None]
    return mean_int([round(size) for size in sizes]) if sizes else "n/a (no call answered)"


@dataclass(frozen=True)
class DiagnosticItem:
    """One thing the trace shows went wrong, as both the summary row and the run's page list it."""

    label: str
    field: str
    """The Diagnostics field it reads: a list of positions or names, or `submitted`."""
    sandbox_only: bool = False
    """Detectable only in a run with a sandbox (n/a elsewhere)."""

    def where(self, r: RunRecord) -> list | None:
        """Where it happened in this run; None where it could not be detected."""
        d = r.diagnostics
        if self.sandbox_only and d.code_cells is None:
            return None
        value = getattr(d, self.field)
        if value is None or isinstance(value, bool):  # `submitted`: False is the problem
            return None if value is None else ([] if value else [1])
        return value


DIAGNOSTIC_ITEMS = (
    DiagnosticItem("Repeated identical tool calls", "repeated_tool_calls"),
    DiagnosticItem("Invalid tool calls (unknown names)", "invalid_tool_calls"),
    DiagnosticItem("Tool errors (bad arguments, no such tool)", "tool_errors"),
    DiagnosticItem("Failed calls never retried to an answer", "lost_to_failures"),
    DiagnosticItem("Calls your tools answered with an error", "user_tool_errors"),
    DiagnosticItem("Unknown tool names asked for", "unknown_tools"),
    DiagnosticItem("Tool calls asked for, never run", "dropped_tool_calls"),
    DiagnosticItem("Replies cut at max_tokens", "truncated_replies"),
    DiagnosticItem("Trajectories truncated to fit the window", "trajectories_truncated"),
    DiagnosticItem("Replies re-asked (parse failed)", "reasked"),
    DiagnosticItem("Steps the framework could not parse", "unparsed_steps"),
    DiagnosticItem("Code cells that shadow a tool", "cells_shadowing_tools", sandbox_only=True),
    DiagnosticItem("Code cells repeated unchanged", "cells_repeated", sandbox_only=True),
    DiagnosticItem("Code cells that raised", "cells_failed", sandbox_only=True),
    DiagnosticItem("SUBMIT / final_answer never called", "submitted", sandbox_only=True),
)
"""Every diagnostic the summary counts and a run's page lists, in order."""
DIAGNOSTICS_SHOWN_APART = {"steps_used": "Steps used / limit", "step_limit": "Steps used / limit",
                           "steps_from_log": "Steps used / limit (a failed run's, marked *)",
                           "hit_step_limit": "Hit iteration limit", "code_cells": "a run page's cells section",
                           "shadowed_tools": "beside Code cells that shadow a tool, on a run's page"}
"""Diagnostics fields that are not an item above, and where each is shown instead."""


UNSCORED = {"none": "Findings and overall risk (no ground truth)",
            "no_findings": "Findings and overall risk (no findings in this task)"}
"""The one row that stands for every row scoring an answer, by the task's truth source, where nothing can be scored:
the user's tools with neither declared findings nor a matcher, or a task of lookups alone."""

SUMMARY_ROWS: tuple[SummaryRow, ...] = (
    # The first rows a reader sees must not flatter: a run that never consulted the tools shows here.
    SummaryRow("Complete runs (no error, every check made)",
               lambda r, c, t: rate_cell(sum(x.complete for x in r.all), len(r.all))),
    SummaryRow("Complete on all of k tries (pass^k)", lambda r, c, t: pass_k_cell(r.all)),
    SummaryRow("All checks made, no answer", lambda r, c, t: _share(r.all, _no_answer),
               shown=lambda c: any(_no_answer(x) for x in c.records)),
    SummaryRow("Completed without error", lambda r, c, t: rate_cell(len(r.ok), len(r.all))),
    SummaryRow("No tool call at all", lambda r, c, t: _share(r.all, lambda x: x.coverage.tool_calls == 0)),
    SummaryRow("Wall time, runs without error", lambda r, c, t: mean_sd([x.wall_time_s for x in r.ok])),
    SummaryRow("Wall time, 95% interval",
               lambda r, c, t: interval_cell(mean_interval([x.wall_time_s for x in r.ok]), "s")),
    SummaryRow("Pacing wait (--tpm), in wall time", lambda r, c, t: mean_sd([x.pacing_wait_s for x in r.ok]),
               shown=lambda c: c.paced),
    SummaryRow(lambda c, t: sandbox_boot_label(c.records), lambda r, c, t: sandbox_boot_cell(r.all)),
    SummaryRow("Waited for the server (not in wall time)", lambda r, c, t: idle_wait_cell(r.all),
               shown=lambda c: any(x.idle_wait for x in c.records)),  # a cut run left a local server working
    SummaryRow(lambda c, t: coverage_label(c.schema, t), lambda r, c, t: coverage_cell(r.all, t.name),
               per_tool=lambda s: s.required_tools),
    SummaryRow(lambda c, t: f"Follow-ups, {t.name} (made/required, wasted)",
               lambda r, c, t: follow_up_cell(r.all, t.name), per_tool=lambda s: s.follow_up_tools),
    SummaryRow("Transient failures: failed / recovered / lost", lambda r, c, t: recovery_cell(r.all),
               shown=lambda c: any(x.coverage.recovery is not None for x in c.records)),
    SummaryRow("Hit iteration limit", lambda r, c, t: hit_limit_cell(r.all)),
    SummaryRow("Tool calls per run", lambda r, c, t: mean_int([x.coverage.tool_calls for x in r.all])),
    SummaryRow("Tool answer tokens per call", lambda r, c, t: _answer_tokens_cell(r.all),
               shown=lambda c: any(x.answer_tokens_per_call is not None for x in c.records)),
    SummaryRow("LM calls per run", lambda r, c, t: mean_int([x.lm_calls for x in r.all])),
    SummaryRow("Of these, failed / cut at --timeout", lambda r, c, t: unanswered_cell(r.all),
               shown=lambda c: any(x.lm_calls_failed or x.lm_calls_cut for x in c.records)),
    SummaryRow("Prompt tokens per run", lambda r, c, t: mean_int([x.prompt_tokens for x in r.all])),
    SummaryRow("Completion tokens per run", lambda r, c, t: mean_int([x.completion_tokens for x in r.all])),
    SummaryRow(lambda c, t: "Largest prompt of a run" + (", of the window" if c.window else ""),
               lambda r, c, t: largest_prompt_cell(r.all, c.window)),
    SummaryRow("Hit the context window (refused or truncated)", lambda r, c, t: _share(r.all, hit_the_window),
               shown=lambda c: any(hit_the_window(x) for x in c.records)),
    SummaryRow("Tokens per run, 95% interval",
               lambda r, c, t: interval_cell(mean_interval([float(x.total_tokens) for x in r.all]), "")),
    SummaryRow("Cost per run (USD), 95% interval", lambda r, c, t: cost_cell(r.all, c.priced)),
    SummaryRow("Cost of these runs (USD)", lambda r, c, t: f"${sum(x.cost_usd or 0.0 for x in r.all):.4f}"
               if c.priced else "n/a (no price)"),
    SummaryRow(lambda c, t: f"{t.answer_field.replace('_', ' ').capitalize()}: recall / precision",
               lambda r, c, t: recall_precision_cell(r.ok, t.name), per_tool=lambda s: s.finding_tools,
               scores_answer=True),
    SummaryRow("Severity agreement",
               lambda r, c, t: percent_cell(scored_runs(r.ok), lambda x: x.answer_score.severity_agreement),
               shown=lambda c: any(x.reports_severity for x in c.schema.finding_tools), scores_answer=True),
    # Beside precision and recall: a finding the agent never looked up is not a correct finding.
    SummaryRow("Reported without a check", lambda r, c, t: _mean_of_scored(r, lambda x: x.answer_score.reported_unchecked),
               scores_answer=True),
    SummaryRow("Claimed clear, never checked",
               lambda r, c, t: _mean_of_scored(r, lambda x: x.answer_score.claimed_clear_never_checked),
               shown=lambda c: any(x.clear_field for x in c.schema.finding_tools), scores_answer=True),
    SummaryRow("Overall risk level right", lambda r, c, t: risk_cell(r.ok), scores_answer=True),
    # State: the follow-ups' values carried from the tools into the answer, exactly.
    SummaryRow("Follow-up values exact", lambda r, c, t: percent_cell(scored_runs(r.ok), lambda x: x.answer_score.values_share),
               shown=lambda c: bool(c.schema.follow_up_tools), scores_answer=True),
    SummaryRow("Steps used / limit", lambda r, c, t: steps_cell(r.all)),
    *(SummaryRow(item.label, lambda r, c, t, item=item: runs_with(r.all, item.where)) for item in DIAGNOSTIC_ITEMS),
    SummaryRow("Failures by category", lambda r, c, t: failure_counts(r.all)),
    SummaryRow("Notable failure", lambda r, c, t: notable_failure(r.all)),
)
"""Every row of an arm-by-arm summary, in order."""


def summary_rows(records: list[RunRecord], approaches: list[str], schema: TaskSchema,
                 paced: bool = False, priced: bool = False, truth: str = "declared",
                 window: int | None = None) -> list[Row]:
    """The rows SUMMARY_ROWS shows for these runs, a column per arm."""
    ctx = RowContext(records, schema, paced, priced, window)
    runs = {a: ArmRuns([r for r in records if r.approach == a], [r for r in records if r.approach == a and r.ok])
            for a in approaches}
    rows: list[Row] = []
    folded = False
    for spec in SUMMARY_ROWS:
        if not spec.shown(ctx):
            continue
        if spec.scores_answer and truth in UNSCORED:  # one row says why, instead of an n/a in every scoring row
            if not folded:
                rows.append((UNSCORED[truth], ["n/a"] * len(approaches)))
                folded = True
            continue
        for tool in spec.per_tool(schema) if spec.per_tool else [None]:
            label = spec.label if isinstance(spec.label, str) else spec.label(ctx, tool)
            rows.append((label, [spec.cell(runs[a], ctx, tool) for a in approaches]))
    return rows
