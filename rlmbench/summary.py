"""The whole summary of an invocation, computed from its results alone.

The text the benchmark prints and the HTML page both come from `summarise`, so a number on the
page is the number in the terminal: one computation, two renderings. It needs nothing but the
results file's meta, its records and the task's schema, so an old results file summarises the same.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlmbench.records import RunRecord
from rlmbench.report import Section, comparison_table, invocation_cost, model_section
from rlmbench.sweep import fit_lines, sweep_heading, sweep_table, time_split_table
from rlmbench.task import TaskSchema


@dataclass(frozen=True)
class Summary:
    sections: list[Section]
    """Per model (and the comparison across models), or the sweep's table."""
    closing: list[str]
    """The lines after the tables: cost, fitted growth, notices, skipped approaches."""

    def text(self) -> str:
        return "\n\n".join([*(s.text() for s in self.sections), "\n".join(self.closing)])


def summarise(meta: dict, records: list[RunRecord], schema: TaskSchema) -> Summary:
    approaches, models = meta["approaches"], meta["models"]
    labels = [m["label"] for m in models]
    notices = meta.get("notices", [])
    sweep = meta.get("sweep")
    if sweep:
        tables = [sweep_table(records, approaches, sweep["sizes"], labels)]
        split = time_split_table(records, approaches, sweep["sizes"], labels)
        return Summary([Section([sweep_heading(meta)], tables + ([split] if split else []))],
                       [*fit_lines(records, approaches, sweep.get("skipped", {}), meta["react_limit"], labels), "",
                        *notices])
    sections = [model_section([r for r in records if r.model == m["label"]], approaches, meta, schema, m)
                for m in models]
    if len(models) > 1:
        sections.append(Section([], [comparison_table(records, approaches, models)]))
    return Summary(sections, [invocation_cost(records, models), *notices, *meta.get("skipped", {}).values()])
