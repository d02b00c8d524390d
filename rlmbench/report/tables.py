"""The summary a user reads and pastes into a report.

Every number printed here is computed from the run records of this invocation; a figure
that was not measured is shown as "n/a", never estimated. Rows name the task's own lists,
tools and answer fields, so the same table serves every task.
"""

from __future__ import annotations

import statistics
import textwrap
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from rlmbench.report.stats import Interval, difference_interval, mean_interval, pass_hat_k, wilson_interval
from rlmbench.results.meta import ModelRecord, RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.task import TaskSchema, ToolSpec, check_scope
from rlmbench.words import counted

Row = tuple[str, list[str]]


def coverage_label(schema: TaskSchema, tool: ToolSpec) -> str:
    scopes = [check_scope(t) for t in schema.required_tools]
    scope = check_scope(tool)
    return f"Coverage, {scope}" + (f" ({tool.name})" if scopes.count(scope) > 1 else "")


def checks_described(schema: TaskSchema) -> str:
    """'medications pairs + medications x conditions': what a required check is, for axis labels."""
    return " + ".join(check_scope(t) for t in schema.required_tools)


def _mean_sd(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f} {unit} (n=1, no sd)"
    return f"{mean:.{digits}f} +/- {statistics.stdev(values):.{digits}f} {unit}"


def _mean_int(values: list[int]) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    low, high = min(values), max(values)
    return f"{mean:,.0f}" if low == high else f"{mean:,.0f} ({low:,}-{high:,})"


def _per_run_coverage(records: list[RunRecord], tool: str) -> str:
    cells = []
    for r in records:
        entry = r.coverage.of(tool)
        cells.append(("n/a" if entry is None else f"{entry.covered}/{entry.required}") + ("" if r.ok else "*"))
    return runs_listed(cells)


def _sandbox_boot(records: list[RunRecord]) -> str:
    boots = [r.sandbox_boot_s for r in records if r.sandbox_boot_s is not None]
    if not boots:
        return "n/a (no sandbox)"
    kinds = sorted({r.sandbox_boot_kind for r in records if r.sandbox_boot_kind})
    return _mean_sd(boots) + (f", {'+'.join(kinds)}" if kinds else "")


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


def _percent(records: list[RunRecord], value: Callable[[RunRecord], float | None]) -> str:
    """Mean of a per-run ratio over the runs that have one, as a percentage; n/a when none do."""
    values = [v for r in records if (v := value(r)) is not None]
    if not values:
        return "n/a"
    return f"{100 * statistics.fmean(values):.0f}%" + ("" if len(values) == len(records) else f" ({counted(len(values), 'run')})")


def _scored(records: list[RunRecord]) -> list[RunRecord]:
    return [r for r in records if r.answer_score is not None]


def _recall_precision(records: list[RunRecord], tool: str) -> str:
    scored = _scored(records)
    recall = _percent(scored, lambda r: r.answer_score.of(tool).recall)
    precision = _percent(scored, lambda r: r.answer_score.of(tool).precision)
    return "n/a" if recall == precision == "n/a" else f"{recall} / {precision}"


def _risk_cell(records: list[RunRecord]) -> str:
    scored = [r.answer_score for r in _scored(records)]
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


def _largest_prompt(records: list[RunRecord]) -> str:
    return _mean_int([max(c.prompt_tokens for c in r.usage_per_call) for r in records if r.usage_per_call])


def _runs_with(records: list[RunRecord], where: Callable[[RunRecord], list | None]) -> str:
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


def _steps(records: list[RunRecord]) -> str:
    """Steps used / limit per run; `*` marks a failed run, whose steps were counted from its log."""
    return runs_listed([f"{r.diagnostics.steps_used}/{r.diagnostics.step_limit}" + ("" if r.ok else "*")
                        for r in records if r.diagnostics.steps_used is not None])


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
    DiagnosticItem("Replies re-asked (parse failed)", "reasked"),
    DiagnosticItem("Code cells that shadow a tool", "cells_shadowing_tools", sandbox_only=True),
    DiagnosticItem("Code cells repeated unchanged", "cells_repeated", sandbox_only=True),
    DiagnosticItem("Code cells that raised", "cells_failed", sandbox_only=True),
    DiagnosticItem("SUBMIT never called", "submitted", sandbox_only=True),
)
"""Every diagnostic the summary counts and a run's page lists, in order."""
DIAGNOSTICS_SHOWN_APART = {"steps_used": "Steps used / limit", "step_limit": "Steps used / limit",
                           "steps_from_log": "Steps used / limit (a failed run's, marked *)",
                           "hit_step_limit": "Hit iteration limit", "code_cells": "a run page's cells section",
                           "shadowed_tools": "beside Code cells that shadow a tool, on a run's page"}
"""Diagnostics fields that are not an item above, and where each is shown instead."""


def diagnostic_rows(by: dict[str, list[RunRecord]], approaches: list[str]) -> list[Row]:
    """How the agents failed, as counts a reader can compare across arms (docs: 'Diagnostics')."""
    return [("Steps used / limit", [_steps(by[a]) for a in approaches])] + [
        (item.label, [_runs_with(by[a], item.where) for a in approaches]) for item in DIAGNOSTIC_ITEMS]


def _number(value: float, unit: str) -> str:
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
    text = f"{prefix}{_number(interval.mean, unit)}{suffix}"
    if not interval.has_interval:
        return text + " (n=1, no interval)"
    return text + f" [{_number(interval.low, unit)}, {_number(interval.high, unit)}]"


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


UNSCORED = {"none": "Findings and overall risk (no ground truth)",
            "no_findings": "Findings and overall risk (no findings in this task)"}
"""The one row that stands for every row scoring an answer, by the task's truth source, where nothing can be scored:
the user's tools with neither declared findings nor a matcher, or a task of lookups alone."""


def summary_rows(records: list[RunRecord], approaches: list[str], schema: TaskSchema,
                 paced: bool = False, priced: bool = False, truth: str = "declared") -> list[Row]:
    by = {a: [r for r in records if r.approach == a] for a in approaches}
    ok = {a: [r for r in by[a] if r.ok] for a in approaches}

    def each(cell: Callable[[str], str]) -> list[str]:
        return [cell(a) for a in approaches]

    def share(a: str, test: Callable[[RunRecord], bool]) -> str:
        return f"{sum(test(r) for r in by[a])} / {len(by[a])}"

    # The first rows a reader sees must not flatter: a run that never consulted the tools shows here.
    rows: list[Row] = [
        ("Complete runs (no error, every check made)",
         each(lambda a: rate_cell(sum(r.complete for r in by[a]), len(by[a])))),
        ("Complete on all of k tries (pass^k)", each(lambda a: pass_k_cell(by[a]))),
        *([("All checks made, no answer", each(lambda a: share(a, lambda r: r.outcome == "no_answer")))]
          if any(r.outcome == "no_answer" for r in records) else []),
        ("Completed without error", each(lambda a: rate_cell(len(ok[a]), len(by[a])))),
        ("No tool call at all", each(lambda a: share(a, lambda r: r.coverage.tool_calls == 0))),
        ("Wall time, runs without error", each(lambda a: _mean_sd([r.wall_time_s for r in ok[a]]))),
        ("Wall time, 95% interval", each(lambda a: interval_cell(mean_interval([r.wall_time_s for r in ok[a]]), "s"))),
        (sandbox_boot_label(records), each(lambda a: _sandbox_boot(by[a]))),
    ]
    if any(r.idle_wait for r in records):  # a cut run left a local server working: the next run waited
        rows.append(("Waited for the server (not in wall time)", each(lambda a: idle_wait_cell(by[a]))))
    if paced:  # --tpm: the wait is inside the wall time, so show how much of it there was
        rows.insert(4, ("Pacing wait (--tpm), in wall time", each(lambda a: _mean_sd([r.pacing_wait_s for r in ok[a]]))))
    rows += [(coverage_label(schema, tool), each(lambda a, t=tool.name: _per_run_coverage(by[a], t)))
             for tool in schema.required_tools]
    rows += [(f"Follow-ups, {tool.name} (made/required, wasted)", each(lambda a, t=tool.name: follow_up_cell(by[a], t)))
             for tool in schema.follow_up_tools]
    if any(r.coverage.recovery is not None for r in records):
        rows.append(("Transient failures: failed / recovered / lost", each(lambda a: recovery_cell(by[a]))))
    rows += [
        ("Hit iteration limit", each(lambda a: hit_limit_cell(by[a]))),
        ("Tool calls per run", each(lambda a: _mean_int([r.coverage.tool_calls for r in by[a]]))),
        ("LM calls per run", each(lambda a: _mean_int([r.lm_calls for r in by[a]]))),
        *([("Of these, failed / cut at --timeout", each(lambda a: unanswered_cell(by[a])))]
          if any(r.lm_calls_failed or r.lm_calls_cut for r in records) else []),
        ("Prompt tokens per run", each(lambda a: _mean_int([r.prompt_tokens for r in by[a]]))),
        ("Completion tokens per run", each(lambda a: _mean_int([r.completion_tokens for r in by[a]]))),
        ("Largest prompt of a run", each(lambda a: _largest_prompt(by[a]))),
        ("Tokens per run, 95% interval", each(lambda a: interval_cell(
            mean_interval([float(r.total_tokens) for r in by[a]]), ""))),
        ("Cost per run (USD), 95% interval", each(lambda a: cost_cell(by[a], priced))),
        ("Cost of these runs (USD)", each(lambda a: f"${sum(r.cost_usd or 0.0 for r in by[a]):.4f}" if priced
                                          else "n/a (no price)")),
    ]
    scored_from = len(rows)  # the rows below score the answer against the ground truth
    rows += [(f"{tool.answer_field.replace('_', ' ').capitalize()}: recall / precision",
              each(lambda a, t=tool.name: _recall_precision(ok[a], t))) for tool in schema.finding_tools]
    if any(t.reports_severity for t in schema.finding_tools):
        rows.append(("Severity agreement", each(lambda a: _percent(_scored(ok[a]),
                                                                   lambda r: r.answer_score.severity_agreement))))
    # Beside precision and recall: a finding the agent never looked up is not a correct finding.
    rows.append(("Reported without a check",
                 each(lambda a: _mean_int([r.answer_score.reported_unchecked for r in _scored(ok[a])])
                      if _scored(ok[a]) else "n/a")))
    if any(t.clear_field for t in schema.finding_tools):
        rows.append(("Claimed clear, never checked",
                     each(lambda a: _mean_int([r.answer_score.claimed_clear_never_checked for r in _scored(ok[a])])
                          if _scored(ok[a]) else "n/a")))
    rows.append(("Overall risk level right", each(lambda a: _risk_cell(ok[a]))))
    if schema.follow_up_tools:  # state: the follow-ups' values carried from the tools into the answer, exactly
        rows.append(("Follow-up values exact", each(lambda a: _percent(_scored(ok[a]),
                                                                       lambda r: r.answer_score.values_share))))
    if truth in UNSCORED:  # one row says why, instead of an n/a in every scoring row
        rows[scored_from:] = [(UNSCORED[truth], ["n/a"] * len(approaches))]
    rows += diagnostic_rows(by, approaches)
    rows += [
        ("Failures by category", each(lambda a: failure_counts(by[a]))),
        ("Notable failure", each(lambda a: notable_failure(by[a]))),
    ]
    return rows


SUMMARY_WIDTH = 160
"""Columns the text summary fits in: a terminal, a report's code block."""
NARROWEST_COLUMN = 10


def _column_cap(label_width: int, naturals: list[int], width: int) -> int:
    """The widest a value column may be for the table to fit in `width`: the largest cap that fits."""
    cap = max(naturals, default=NARROWEST_COLUMN)
    while cap > NARROWEST_COLUMN and label_width + sum(2 + min(n, cap) for n in naturals) > width:
        cap -= 1
    return cap


def render_table(header: list[str], rows: list[Row], width: int = SUMMARY_WIDTH) -> str:
    """The table in at most `width` columns: a header too wide wraps, and a cell too wide goes under the table
    as a numbered note (`[1]` in its place), so one long text does not set the width of every row."""
    label_width = max(len(header[0]), *(len(row_label) for row_label, _ in rows))
    naturals = [max(len(header[i]), *(len(cells[i - 1]) for _, cells in rows)) for i in range(1, len(header))]
    cap = _column_cap(label_width, naturals, width)
    notes: list[str] = []

    def bounded(cell: str, column: str, row_label: str) -> str:
        if len(cell) <= cap:
            return cell
        notes.append(f"[{len(notes) + 1}] {column}, {row_label}: {cell}")
        return f"[{len(notes)}]"

    body = [(row_label, [bounded(c, header[i + 1], row_label) for i, c in enumerate(cells)])
            for row_label, cells in rows]
    heads = [textwrap.wrap(h, cap) or [""] for h in header[1:]]
    widths = [label_width] + [max(len(line) for line in lines_of(i, heads, body)) for i in range(len(heads))]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    depth = max(len(h) for h in heads)
    out = [line([header[0] if d == depth - 1 else "", *(h[d - depth + len(h)] if d >= depth - len(h) else ""
                                                          for h in heads)]) for d in range(depth)]
    out += [line(["-" * w for w in widths])] + [line([row_label, *cells]) for row_label, cells in body]
    wrapped = [textwrap.fill(n, width, subsequent_indent="    ") for n in notes]
    return "\n".join(out + ([""] + wrapped if wrapped else []))


def lines_of(column: int, heads: list[list[str]], body: list[Row]) -> list[str]:
    """Everything drawn in one value column: its header lines and its cells."""
    return heads[column] + [cells[column] for _, cells in body]


def lists_described(sizes: dict[str, int]) -> str:
    """'7 medications x 2 conditions': a task's lists and their lengths."""
    return " x ".join(f"{n} {name}" for name, n in sizes.items())


def task_line(meta: RunMeta) -> str:
    task = meta.task
    follow_ups = f" and {counted(task.required_follow_ups, 'follow-up')}" if task.required_follow_ups else ""
    line = f"Task: {task.name} ({lists_described(task.lists)}; {task.required_checks:,} required checks{follow_ups})"
    if task.user_tools_text():
        line += f"\nYour tools: {task.user_tools_text()}"
    return line if meta.tools.none else f"{line}\nTools: {meta.tools.text()}"


def price_line(model: ModelRecord) -> str:
    price = model.price
    if price is None:
        return "price: none (the offline oracle is free)" if model.is_oracle else "price: none (cost n/a)"
    return (f"price: ${price.input_per_million:g} / ${price.output_per_million:g} per million prompt / "
            f"completion tokens ({price.source})")


def difference_rows(records: list[RunRecord], meta: RunMeta) -> tuple[str, list[Row]] | None:
    """Each arm against the reference arm (the registry's, recorded in the header) of the same model: mean
    differences with Welch intervals."""
    approaches, reference, label = meta.approaches, meta.reference_approach, meta.label
    if reference is None or reference not in approaches:
        return None
    ok = {a: [r for r in records if r.approach == a and r.ok] for a in approaches}
    rows = []
    for a in approaches:
        if a == reference:
            continue
        rows.append((label(a), [
            interval_cell(difference_interval([r.wall_time_s for r in ok[a]], [r.wall_time_s for r in ok[reference]]),
                          "s"),
            interval_cell(difference_interval([float(r.total_tokens) for r in ok[a]],
                                              [float(r.total_tokens) for r in ok[reference]]), ""),
        ]))
    return label(reference), rows


@dataclass(frozen=True)
class Table:
    """One table of the summary, as both the text summary and the HTML page show it: one computation."""

    header: list[str]
    rows: list[Row]
    title: str = ""
    """The line above the table."""
    note: str = ""
    """The line below it (after a blank line)."""

    def text(self) -> str:
        return "\n".join([*([self.title] if self.title else []), render_table(self.header, self.rows),
                          *(["", textwrap.fill(self.note, SUMMARY_WIDTH)] if self.note else [])])


@dataclass(frozen=True)
class Section:
    """Heading lines, then tables: one model's summary, the comparison, or the sweep."""

    lines: list[str]
    tables: list[Table]

    def text(self) -> str:
        parts = [*self.lines, ""] if self.lines else []
        return "\n".join(parts + "\n\n".join(t.text() for t in self.tables).split("\n"))


FAILED_RUN_NOTE = "* failed run: its coverage and steps count what it did before failing."
INTERVALS_NOTE = "Intervals are 95%: Wilson for rates (k / N), Student t for means."


def model_section(records: list[RunRecord], meta: RunMeta, schema: TaskSchema, model: ModelRecord) -> Section:
    """One model's table and the differences between its arms."""
    approaches = meta.approaches
    header = ["Metric", *(meta.label(a) for a in approaches)]
    rows = summary_rows(records, approaches, schema, paced=bool(model.tokens_per_minute),
                        priced=model.price is not None, truth=meta.task.truth)
    name = model.name + (f" ({model.model})" if model.name != model.model else "")
    lines = [
        task_line(meta),
        f"Model: {name}   runs per approach: {meta.runs}   answer form: {meta.settings.answer_form}   "
        f"DSPy {meta.dspy_version}",
        price_line(model),
    ]
    failed = any(not r.ok for r in records if r.approach in approaches)
    note = f"{FAILED_RUN_NOTE} {INTERVALS_NOTE}" if failed else INTERVALS_NOTE
    tables = [Table(header, rows, note=note)]
    differences = difference_rows(records, meta)
    if differences and any(cell != "n/a" for _, cells in differences[1] for cell in cells):
        reference, diff_rows = differences
        tables.append(Table(["Approach", "Wall time", "Tokens per run"], diff_rows,
                            title=f"Difference from {reference}, mean and 95% Welch interval, runs without error:"))
    return Section(lines, tables)


def comparison_rows(records: list[RunRecord], meta: RunMeta) -> list[Row]:
    rows = []
    for model in meta.models:
        for a in meta.approaches:
            runs = [r for r in records if r.model == model.name and r.approach == a]
            if not runs:
                continue
            ok = [r for r in runs if r.ok]
            rows.append((model.name, [
                meta.label(a), rate_cell(sum(r.complete for r in runs), len(runs)),
                f"{100 * statistics.fmean(r.coverage.share for r in runs):.0f}%",
                interval_cell(mean_interval([r.wall_time_s for r in ok]), "s"),
                _mean_int([r.lm_calls for r in runs]),
                interval_cell(mean_interval([float(r.total_tokens) for r in runs]), ""),
                cost_cell(runs, model.price is not None),
            ]))
    return rows


def comparison_table(records: list[RunRecord], meta: RunMeta) -> Table:
    header = ["Model", "Approach", "Complete runs", "Coverage", "Wall time", "LM calls", "Tokens per run",
              "Cost per run (USD)"]
    return Table(header, comparison_rows(records, meta),
                 title="Comparison across models (95% intervals: Wilson for rates, Student t for means):")


def invocation_cost(records: list[RunRecord], models: list[ModelRecord]) -> str:
    priced = [m for m in models if m.price is not None]
    unpriced = [m.name for m in models if m.price is None]
    if not priced:
        oracle = " (the offline oracle is free)" if any(m.is_oracle for m in models) else ""
        return f"Cost of this invocation: n/a: no model has a price{oracle}; give one with --price-in/--price-out"
    total = sum(r.cost_usd or 0.0 for r in records)
    parts = [f"{m.name} ${sum(r.cost_usd or 0.0 for r in records if r.model == m.name):.4f}" for m in priced]
    text = f"Cost of this invocation: ${total:.4f}" + (f" ({', '.join(parts)})" if len(priced) > 1 else "")
    if unpriced:
        text += f"; no price for {', '.join(unpriced)} (n/a, not counted)"
    return text
