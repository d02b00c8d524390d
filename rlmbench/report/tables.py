"""The summary a user reads and pastes into a report.

Every number printed here is computed from the run records of this invocation; a figure
that was not measured is shown as "n/a", never estimated. Rows name the task's own lists,
tools and answer fields, so the same table serves every task.
"""

from __future__ import annotations

import statistics
import textwrap
from dataclasses import dataclass

from rlmbench.report.cells import cost_cell, interval_cell, mean_int, rate_cell
from rlmbench.report.rows import Row, summary_rows
from rlmbench.report.stats import difference_interval, mean_interval
from rlmbench.results.meta import ModelRecord, RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.task import TaskSchema, check_scope
from rlmbench.words import counted


def checks_described(schema: TaskSchema) -> str:
    """'medications pairs + medications x conditions': what a required check is, for axis labels."""
    return " + ".join(check_scope(t) for t in schema.required_tools)




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


def window_line(model: ModelRecord) -> str:
    window = model.window
    if window is None:
        return "context window: not known (the provider refuses a prompt over its own)"
    return (f"context window: {window.tokens:,} tokens ({window.source}; "
            + ("the benchmark refuses a larger prompt before sending it)" if window.enforced
               else "the provider refuses a larger prompt)"))


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
                        priced=model.price is not None, truth=meta.task.truth,
                        window=model.window.tokens if model.window else None)
    name = model.name + (f" ({model.model})" if model.name != model.model else "")
    lines = [
        task_line(meta),
        f"Model: {name}   runs per approach: {meta.runs}   answer form: {meta.settings.answer_form}   "
        + meta.frameworks_text(),
        price_line(model),
        window_line(model),
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
                mean_int([r.lm_calls for r in runs]),
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
