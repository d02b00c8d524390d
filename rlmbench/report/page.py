"""The invocation's HTML report: one self-contained file a reader can mail, attach or open offline.

CSS (page.css), script (page.js) and the chart (a PNG as a data: URI) are inline; nothing is fetched. The tables are the
text summary's own (summary.summarise), so the page and the terminal never disagree. The page reads
without script; the script only filters runs and names the check under the pointer in a grid.
"""

from __future__ import annotations

import base64
import functools
import sys
from importlib import resources
from pathlib import Path

from rlmbench.report.coverage_grid import run_grids
from rlmbench.report.run_sections import RunPage, esc, run_html
from rlmbench.report.summary import summarise
from rlmbench.report.tables import Table, price_line
from rlmbench.report.verdict import VERDICT_TITLE
from rlmbench.results.files import ResultsFiles, ResultsReadError, read_results, read_traces, record_key
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import OUTCOMES, RunRecord
from rlmbench.scoring.findings import answer_findings
from rlmbench.scoring.ledger import call_from_trace
from rlmbench.tasks.sizes import parse_sizes
from rlmbench.tasks.synthetic import synthetic_task
from rlmbench.tasks.task import Case, Task
from rlmbench.tasks.task_file import TaskFileError, load_task
from rlmbench.words import counted

TRUTH_CHANGED = ("The task file at hand is not the one these runs used (its fingerprint differs): coverage is "
                 "shown, findings and the ground truth are not.")


@functools.cache
def _asset(name: str) -> str:
    return resources.files("rlmbench.report").joinpath(name).read_text(encoding="utf-8")


def _case_tasks(meta: RunMeta, task: Task) -> dict[str | None, tuple[Task, Case]]:
    """The task and case each record ran on: the task's own lists, or each sweep size's generated task."""
    out: dict[str | None, tuple[Task, Case]] = {None: (task, Case(meta.case) if meta.case else task.full_case())}
    names = [spec.name for spec in task.schema.lists]
    for size in parse_sizes(",".join(meta.sweep.sizes), names) if meta.sweep and meta.sweep.sizes else ():
        generated = synthetic_task(task, size, seed=meta.sweep.seed)
        out[str(size)] = (generated, generated.full_case())
    return out


def run_pages(meta: RunMeta, records: list[RunRecord], traces: dict[tuple, dict], task: Task) -> list[RunPage]:
    """Each run's grids and findings, from its record, its trace and the task's ground truth."""
    truth_known = task.fingerprint() == meta.task.fingerprint
    cases = _case_tasks(meta, task)
    pages = []
    for record in records:
        trace = traces.get(record_key(record))
        case_task, case = cases.get(record.case, (None, None))
        if case_task is None:
            pages.append(RunPage(record, meta.arm(record.approach), trace, [], None, task.schema.severities,
                                 f"No case named {record.case} in this file's sweep sizes."))
            continue
        findings = None
        answer = (trace or {}).get("answer")
        if truth_known and answer:
            calls = [call_from_trace(c) for c in (trace or {}).get("tool_calls", [])]
            findings = answer_findings(answer, case_task, case, calls)
        pages.append(RunPage(record, meta.arm(record.approach), trace, run_grids(record, case_task, case, truth_known, findings), findings,
                             task.schema.severities, "" if truth_known else TRUTH_CHANGED))
    return pages


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    rows = "".join(f"<tr><th>{esc(name)}</th>{''.join(f'<td>{esc(c)}</td>' for c in cells)}</tr>"
                   for name, cells in table.rows)
    return (f'<div class="tablebox">{f"<p>{esc(table.title)}</p>" if table.title else ""}'
            f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            f'{f"<p class=note>{esc(table.note)}</p>" if table.note else ""}</div>')


STATE_WORDS = {"running": "still running when written", "finished": "finished", "interrupted": "interrupted"}


def _settings_html(meta: RunMeta) -> str:
    models = "".join(
        f"<li><b>{esc(m.name)}</b>: {esc(m.model)}" + (f", server {esc(m.api_base)}" if m.api_base else "")
        + f", max_tokens {esc(m.max_tokens)}, concurrency {esc(m.concurrency)}, " + esc(price_line(m)) + "</li>"
        for m in meta.models)
    agents = meta.settings
    settings = {"react_max_iters": agents.react_limit_text(), "rlm_max_iters": agents.rlm_max_iters,
                "rlm_max_llm_calls": agents.rlm_max_llm_calls, "answer_form": agents.answer_form,
                "react_limit": meta.react_limit, "run timeout (s)": meta.run_timeout_s or "none",
                "sandbox": meta.sandbox_text()}
    rows = [("Task", f"{meta.task.name} ({meta.task.source}, fingerprint {meta.task.fingerprint})"),
            ("Runs per approach", meta.runs), ("Approaches", ", ".join(a.label for a in meta.arms)),
            ("Settings", ", ".join(f"{k} {v}" for k, v in settings.items())),
            ("Tools", meta.tools.text()),
            *([("Your tools", meta.task.user_tools_text())] if meta.task.user_tools_text() else []),
            ("Frameworks / Deno / Python",
             f"{meta.frameworks_text()} / {meta.deno_version or 'not used'} / {meta.python}"),
            ("Platform", meta.platform), ("Started", meta.started_at), ("State", STATE_WORDS[meta.state])]
    if meta.sweep:
        rows.insert(2, ("Sweep sizes", ", ".join(f"{s} ({c:,} checks)" for s, c in
                                                 zip(meta.sweep.sizes, meta.sweep.checks))
                        + f", seed {meta.sweep.seed}"))
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{cells}<tr><th>Models</th><td><ul>{models}</ul></td></tr></table>'


def _filters_html(records: list[RunRecord], meta: RunMeta) -> str:
    def select(name: str, values: list[tuple[str, str]]) -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(text)}</option>' for v, text in values)
        return (f'<label>{esc(name)} <select data-filter="{name}"><option value="">all</option>{options}'
                "</select></label>")

    models = list(dict.fromkeys(r.model for r in records))
    approaches = list(dict.fromkeys(r.approach for r in records))
    cases = list(dict.fromkeys(r.case for r in records if r.case))
    parts = [select("model", [(m, m) for m in models]), select("approach", [(a, meta.label(a)) for a in approaches]),
             select("outcome", list(OUTCOMES.items()))]
    if cases:
        parts.append(select("case", [(c, c) for c in cases]))
    counts = {words: sum(r.outcome == o for r in records) for o, words in OUTCOMES.items()}
    return (f'<div class="filters">{"".join(parts)} <button type="button" id="expand">expand shown</button> '
            f'<button type="button" id="collapse">collapse all</button> <span id="shown">{counted(len(records), "run")}</span>'
            f'<span class="counts">{", ".join(f"{n} {o}" for o, n in counts.items())}</span></div>')


LEGEND = ('<p class="legend">Coverage cells: <i class="c"></i> checked <i class="m"></i> never checked '
          '<i class="c s0"></i> a finding (darker: more severe) <i class="c s0 r"></i> ringed: the answer reported it '
          '<i class="m l"></i> dashed: lost to a transient failure <i class="c s0 f"></i> blue base: its follow-up '
          'made <i class="c s0 fm"></i> pink base: its follow-up missed. Point at a cell to name its check.</p>')


def build_page(meta: RunMeta, records: list[RunRecord], traces: dict[tuple, dict], task: Task,
               chart_png: bytes | None, results_name: str) -> str:
    """The whole page as one string."""
    summary = summarise(meta, records, task.schema)
    sections = "".join(
        f'<section class="model">{"".join(f"<p class=line>{esc(line)}</p>" for line in s.lines)}'
        f'{"".join(_table_html(t) for t in s.tables)}</section>' for s in summary.sections)
    # The header shows the notices; the rest of the text summary's closing lines follow the tables.
    closing = "".join(f"<p>{esc(line)}</p>" for line in summary.closing
                      if line.strip() and line not in meta.notices)
    notices = "".join(f'<p class="notice">{esc(n)}</p>' for n in meta.notices)
    verdict = (f'<section class="verdict"><h2>Verdict</h2><p>{esc(VERDICT_TITLE)}</p><ul>'
               + "".join(f"<li>{esc(line)}</li>" for line in summary.verdict) + "</ul></section>"
               if summary.verdict else "")
    chart = ("" if chart_png is None else
             f'<img class="chart" alt="chart of this invocation" src="data:image/png;base64,'
             f'{base64.b64encode(chart_png).decode()}">')
    pages = run_pages(meta, records, traces, task)
    runs = "".join(run_html(p, f"run-{i}") for i, p in enumerate(pages, 1))
    title = f"{meta.task.name}: {', '.join(meta.labels)}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>RLM vs ReAct, {esc(title)}</title><style>{_asset("page.css")}</style></head><body>
<header><h1>RLM vs ReAct tool calling: task {esc(meta.task.name)}</h1>{verdict}{notices}{_settings_html(meta)}</header>
<main><h2>Summary</h2>{sections}<div class="closing">{closing}</div>
{f"<h2>Chart</h2>{chart}" if chart else ""}
<h2>Runs</h2>{_filters_html(records, meta)}{LEGEND}<div id="runs">{runs}</div></main>
<footer>Written by rlmbench from {esc(results_name)}; every
figure here is read from the run records, the same ones the text summary prints. Full traces:
the .traces.jsonl file.</footer>
<script>{_asset("page.js")}</script></body></html>
"""


def write_page(path: Path, meta: RunMeta, records: list[RunRecord], traces: dict[tuple, dict], task: Task,
               results: Path) -> Path:
    from rlmbench.report.plots import chart_png  # matplotlib loads here, not at import

    chart = chart_png(records, meta, task.schema) if records else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_page(meta, records, traces, task, chart, results.name), encoding="utf-8")
    return path


def rebuild_page(results: Path, path: Path, task_argument_given: str | None = None) -> Path:
    """The page of an earlier invocation, from its .json and .traces.jsonl (ResultsReadError: one line to show)."""
    meta, records = read_results(results)
    try:
        task = load_task(task_argument_given or meta.task.load_argument())
    except TaskFileError as exc:
        raise ResultsReadError(f"cannot load the task of {results}: {exc} (name it with --task)") from None
    task = task.as_recorded(meta.task.code_tools, meta.task.findings)  # a task of the user's code, as it ran
    if task.fingerprint() != meta.task.fingerprint:
        print(f"note: {TRUTH_CHANGED}", file=sys.stderr)
    traces = read_traces(ResultsFiles(results).traces_path, meta.labels)
    return write_page(path, meta, records, traces, task, results)
