"""The whole summary of an invocation, computed from its results alone.

The text the benchmark prints and the HTML page both come from `summarise`, so a number on the
page is the number in the terminal: one computation, two renderings. It needs nothing but the
results file's meta, its records and the task's schema, so an old results file summarises the same.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field, replace

from rlmbench.report.answer_sizes import answer_size_table, growth_table
from rlmbench.report.claims import claims_table
from rlmbench.report.growth import fit_lines, sweep_heading, sweep_table, time_split_table
from rlmbench.report.latency import crossover_table, latency_table
from rlmbench.report.tables import SUMMARY_WIDTH, Section, comparison_table, invocation_cost, model_section
from rlmbench.report.verdict import VERDICT_TITLE, verdict
from rlmbench.results.meta import ModelRecord, RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.behaviour import Latency
from rlmbench.tasks.task import TaskSchema


def _model_claims(runs: list[RunRecord], meta: RunMeta, schema: TaskSchema, model: ModelRecord) -> Section:
    """One model's table and differences, then the study's claims measured on the same runs."""
    section = model_section(runs, meta, schema, model)
    return Section(section.lines, [*section.tables, *([claims_table(runs, meta, schema)] if runs else [])])


def _at_largest(runs: list[RunRecord], meta: RunMeta) -> list[RunRecord]:
    """A tool sweep's runs at its largest value (the claims and the verdict are measured there); all runs else."""
    if meta.tools.latency_sweep_ms:
        return [r for r in runs if r.tool_latency_ms == max(meta.tools.latency_sweep_ms)]
    if meta.tools.answer_tokens_sweep:
        return [r for r in runs if r.tool_answer_tokens == max(meta.tools.answer_tokens_sweep)]
    return runs


def _tool_sweep_section(runs: list[RunRecord], meta: RunMeta, schema: TaskSchema, model: ModelRecord) -> Section:
    """A tool sweep: its own tables first (wall time per latency and the pairs' crossovers; tokens per answer size,
    growth and the window's cliff); then the whole table and the claims for the runs at the largest value alone,
    as pooling values would mix their figures."""
    section = _model_claims(_at_largest(runs, meta), meta, schema, model)
    first, *rest = section.tables
    if meta.tools.latency_sweep_ms:
        own = [latency_table(runs, meta), crossover_table(runs, meta)]
        title = f"At {Latency(max(meta.tools.latency_sweep_ms)).text()}, the largest tool latency:"
    else:
        own = [answer_size_table(runs, meta), growth_table(runs, meta)]
        title = f"At {max(meta.tools.answer_tokens_sweep):,} tokens, the largest answer size:"
    return Section(section.lines, [*own, replace(first, title=title), *rest])


@dataclass(frozen=True)
class Summary:
    sections: list[Section]
    """Per model (and the comparison across models), or the sweep's table."""
    closing: list[str]
    """The lines after the tables: cost, fitted growth, notices, skipped approaches."""
    verdict: list[str] = field(default_factory=list)
    """A line per claim (report.verdict), per model where several ran: what a reader sees first on the page, and
    last in the terminal."""

    def text(self) -> str:
        closing = [textwrap.fill(line, SUMMARY_WIDTH) if line else line for line in self.closing]
        verdict = [VERDICT_TITLE, *(textwrap.fill(line, SUMMARY_WIDTH, subsequent_indent="  ")
                                    for line in self.verdict)] if self.verdict else []
        return "\n\n".join([*(s.text() for s in self.sections), "\n".join(closing),
                             *(["\n".join(verdict)] if verdict else [])])


def summarise(meta: RunMeta, records: list[RunRecord], schema: TaskSchema) -> Summary:
    if meta.sweep:
        split = time_split_table(records, meta)
        return Summary([Section([sweep_heading(meta)], [sweep_table(records, meta)] + ([split] if split else []))],
                       [*fit_lines(records, meta), "", *meta.notices])
    sections, verdicts = [], []
    for model in meta.models:
        runs = [r for r in records if r.model == model.name]
        sections.append(_tool_sweep_section(runs, meta, schema, model) if meta.tools.sweep_values
                        else _model_claims(runs, meta, schema, model))
        runs = _at_largest(runs, meta)  # the claims are measured at a sweep's largest value: so is the verdict
        prefix = f"{model.name}: " if len(meta.models) > 1 else ""
        verdicts += [prefix + line for line in verdict(runs, meta, schema)]
    if len(meta.models) > 1:
        sections.append(Section([], [comparison_table(records, meta)]))
    return Summary(sections, [invocation_cost(records, meta.models), *meta.notices, *meta.skipped.values()],
                   verdicts)
