"""The invocation's HTML report: one self-contained file a reader can mail, attach or open offline.

CSS, script and the chart (a PNG as a data: URI) are inline; nothing is fetched. The tables are the
text summary's own (summary.summarise), so the page and the terminal never disagree. The page reads
without script; the script only filters runs and names the check under the pointer in a grid.
"""

from __future__ import annotations

import base64
import sys
from pathlib import Path

from rlmbench.coverage_grid import run_grids
from rlmbench.findings import answer_findings
from rlmbench.html_runs import RunPage, esc, outcome, run_html
from rlmbench.ledger import ToolCall
from rlmbench.records import RunRecord
from rlmbench.report import Table, label, price_line
from rlmbench.results_files import ResultsFiles, ResultsReadError, read_results, read_traces, record_key
from rlmbench.resume_settings import task_argument
from rlmbench.sizes import parse_sizes
from rlmbench.summary import summarise
from rlmbench.synthetic import synthetic_task
from rlmbench.task import Case, Task
from rlmbench.task_file import TaskFileError, load_task

TRUTH_CHANGED = ("The task file at hand is not the one these runs used (its fingerprint differs): coverage is "
                 "shown, findings and the ground truth are not.")


def _case_tasks(meta: dict, task: Task) -> dict[str | None, tuple[Task, Case]]:
    """The task and case each record ran on: the task's own lists, or each sweep size's generated task."""
    out: dict[str | None, tuple[Task, Case]] = {None: (task, Case(meta["case"]) if meta.get("case")
                                                       else task.full_case())}
    sweep = meta.get("sweep") or {}
    names = [spec.name for spec in task.schema.lists]
    for size in parse_sizes(",".join(sweep.get("sizes", [])), names) if sweep.get("sizes") else ():
        generated = synthetic_task(task, size, seed=sweep.get("seed", 0))
        out[str(size)] = (generated, generated.full_case())
    return out


def run_pages(meta: dict, records: list[RunRecord], traces: dict[tuple, dict], task: Task) -> list[RunPage]:
    """Each run's grids and findings, from its record, its trace and the task's ground truth."""
    truth_known = task.fingerprint() == meta["task"].get("fingerprint")
    cases = _case_tasks(meta, task)
    pages = []
    for record in records:
        trace = traces.get(record_key(record))
        case_task, case = cases.get(record.case, (None, None))
        if case_task is None:
            pages.append(RunPage(record, trace, [], None, task.schema.severities,
                                 f"No case named {record.case} in this file's sweep sizes."))
            continue
        findings = None
        answer = (trace or {}).get("answer")
        if truth_known and answer:
            calls = [ToolCall(c.get("tool", ""), c.get("args") or {}, bool(c.get("valid")), 0.0)
                     for c in (trace or {}).get("tool_calls", [])]
            findings = answer_findings(answer, case_task, case, calls)
        pages.append(RunPage(record, trace, run_grids(record, case_task, case, truth_known, findings), findings,
                             task.schema.severities, "" if truth_known else TRUTH_CHANGED))
    return pages


def _table_html(table: Table) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in table.header)
    rows = "".join(f"<tr><th>{esc(name)}</th>{''.join(f'<td>{esc(c)}</td>' for c in cells)}</tr>"
                   for name, cells in table.rows)
    return (f'<div class="tablebox">{f"<p>{esc(table.title)}</p>" if table.title else ""}'
            f'<table class="summary"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
            f'{f"<p class=note>{esc(table.note)}</p>" if table.note else ""}</div>')


def _settings_html(meta: dict) -> str:
    models = "".join(
        f"<li><b>{esc(m['label'])}</b>: {esc(m['model'])}"
        + (f", server {esc(m['api_base'])}" if m.get("api_base") else "")
        + f", max_tokens {esc(m.get('max_tokens'))}, concurrency {esc(m.get('concurrency', 1))}, "
        + esc(price_line(m)) + "</li>"
        for m in meta["models"])
    settings = {**meta.get("settings", {}), "react_limit": meta.get("react_limit"),
                "run timeout (s)": meta.get("run_timeout_s") or "none", "sandbox": meta.get("sandbox") or "none"}
    rows = [("Task", f"{meta['task']['name']} ({meta['task']['source']}, fingerprint {meta['task']['fingerprint']})"),
            ("Runs per approach", meta["runs"]), ("Approaches", ", ".join(label(a) for a in meta["approaches"])),
            ("Settings", ", ".join(f"{k} {v}" for k, v in settings.items())),
            ("DSPy / Deno / Python", f"{meta.get('dspy_version')} / {meta.get('deno_version') or 'not used'} / "
                                     f"{meta.get('python')}"),
            ("Platform", meta.get("platform")), ("Started", meta.get("started_at")),
            ("State", "interrupted" if meta.get("interrupted") else ("finished" if meta.get("finished")
                                                                     else "still running when written"))]
    if meta.get("sweep"):
        rows.insert(2, ("Sweep sizes", ", ".join(f"{s} ({c:,} checks)" for s, c in
                                                 zip(meta["sweep"]["sizes"], meta["sweep"]["checks"]))
                        + f", seed {meta['sweep'].get('seed', 0)}"))
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
    return f'<table class="kv">{cells}<tr><th>Models</th><td><ul>{models}</ul></td></tr></table>'


def _filters_html(records: list[RunRecord]) -> str:
    def select(name: str, values: list[tuple[str, str]]) -> str:
        options = "".join(f'<option value="{esc(v)}">{esc(text)}</option>' for v, text in values)
        return (f'<label>{esc(name)} <select data-filter="{name}"><option value="">all</option>{options}'
                "</select></label>")

    models = list(dict.fromkeys(r.model for r in records))
    approaches = list(dict.fromkeys(r.approach for r in records))
    cases = list(dict.fromkeys(r.case for r in records if r.case))
    parts = [select("model", [(m, m) for m in models]), select("approach", [(a, label(a)) for a in approaches]),
             select("outcome", [(o, o) for o in ("failed", "incomplete", "complete")])]
    if cases:
        parts.append(select("case", [(c, c) for c in cases]))
    counts = {o: sum(outcome(r) == o for r in records) for o in ("failed", "incomplete", "complete")}
    return (f'<div class="filters">{"".join(parts)} <button type="button" id="expand">expand shown</button> '
            f'<button type="button" id="collapse">collapse all</button> <span id="shown">{len(records)} runs</span>'
            f'<span class="counts">{", ".join(f"{n} {o}" for o, n in counts.items())}</span></div>')


LEGEND = ('<p class="legend">Coverage cells: <i class="c"></i> checked <i class="m"></i> never checked '
          '<i class="c s0"></i> a finding (darker: more severe) <i class="c s0 r"></i> ringed: the answer reported it. '
          "Point at a cell to name its check.</p>")


def build_page(meta: dict, records: list[RunRecord], traces: dict[tuple, dict], task: Task,
               chart_png: bytes | None, results_name: str) -> str:
    """The whole page as one string."""
    summary = summarise(meta, records, task.schema)
    sections = "".join(
        f'<section class="model">{"".join(f"<p class=line>{esc(line)}</p>" for line in s.lines)}'
        f'{"".join(_table_html(t) for t in s.tables)}</section>' for s in summary.sections)
    # The header shows the notices; the rest of the text summary's closing lines follow the tables.
    closing = "".join(f"<p>{esc(line)}</p>" for line in summary.closing
                      if line.strip() and line not in meta.get("notices", []))
    notices = "".join(f'<p class="notice">{esc(n)}</p>' for n in meta.get("notices", []))
    chart = ("" if chart_png is None else
             f'<img class="chart" alt="chart of this invocation" src="data:image/png;base64,'
             f'{base64.b64encode(chart_png).decode()}">')
    pages = run_pages(meta, records, traces, task)
    runs = "".join(run_html(p, f"run-{i}") for i, p in enumerate(pages, 1))
    title = f"{meta['task']['name']}: {', '.join(m['label'] for m in meta['models'])}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>RLM vs ReAct, {esc(title)}</title><style>{CSS}</style></head><body>
<header><h1>RLM vs ReAct tool calling: task {esc(meta['task']['name'])}</h1>{notices}{_settings_html(meta)}</header>
<main><h2>Summary</h2>{sections}<div class="closing">{closing}</div>
{f"<h2>Chart</h2>{chart}" if chart else ""}
<h2>Runs</h2>{_filters_html(records)}{LEGEND}<div id="runs">{runs}</div></main>
<footer>Written by rlm_vs_react_tool_calling.py from {esc(results_name)}; every
figure here is read from the run records, the same ones the text summary prints. Full traces:
the .traces.jsonl file.</footer>
<script>{SCRIPT}</script></body></html>
"""


def write_page(path: Path, meta: dict, records: list[RunRecord], traces: dict[tuple, dict], task: Task,
               results: Path) -> Path:
    from rlmbench.plots import chart_png  # matplotlib loads here, not at import

    chart = chart_png(records, meta["approaches"], meta, task.schema) if records else None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_page(meta, records, traces, task, chart, results.name), encoding="utf-8")
    return path


def rebuild_page(results: Path, path: Path, task_argument_given: str | None = None) -> Path:
    """The page of an earlier invocation, from its .json and .traces.jsonl (ResultsReadError: one line to show)."""
    meta, records = read_results(results)
    try:
        task = load_task(task_argument_given or task_argument(meta["task"]))
    except TaskFileError as exc:
        raise ResultsReadError(f"cannot load the task of {results}: {exc} (name it with --task)") from None
    if task.fingerprint() != meta["task"].get("fingerprint"):
        print(f"note: {TRUTH_CHANGED}", file=sys.stderr)
    traces = read_traces(ResultsFiles(results).traces_path, [m["label"] for m in meta["models"]])
    return write_page(path, meta, records, traces, task, results)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1d232b;background:#f6f7f9}
header,main,footer{max-width:1400px;margin:0 auto;padding:12px 24px}
header{background:#fff;border-bottom:1px solid #dde1e6}
h1{font-size:22px;margin:8px 0}h2{font-size:18px;margin:24px 0 8px;border-bottom:1px solid #dde1e6}
h4{margin:10px 0 4px;font-size:14px}h5{margin:6px 0;font-size:13px}
.notice{background:#fff4d6;border-left:4px solid #e0a800;padding:6px 10px;margin:6px 0}
table{border-collapse:collapse}
table.kv th{text-align:left;vertical-align:top;padding:2px 12px 2px 0;color:#4a5563;font-weight:600;white-space:nowrap}
table.kv td{padding:2px 0}table.kv ul{margin:0;padding-left:18px}
.tablebox{overflow-x:auto;margin:8px 0 16px}
table.summary{background:#fff;font-size:13px}
table.summary th,table.summary td{border:1px solid #dde1e6;padding:3px 8px;text-align:left;vertical-align:top}
table.summary thead th{background:#eef1f5;position:sticky;top:0}
table.summary tbody th{font-weight:600;white-space:nowrap}
p.line{margin:2px 0;white-space:pre;font-family:ui-monospace,monospace;font-size:13px}
.note{color:#5b6470;font-size:12px}.closing p{margin:2px 0}
img.chart{max-width:100%;background:#fff;border:1px solid #dde1e6}
.filters{position:sticky;top:0;background:#f6f7f9;padding:8px 0;z-index:2;display:flex;gap:12px;align-items:center;flex-wrap:wrap}
.counts{color:#5b6470}
details.run{background:#fff;border:1px solid #dde1e6;border-radius:6px;margin:6px 0}
details.run>summary{padding:6px 10px;cursor:pointer}
details.run .body{padding:4px 14px 12px}
details.part{margin:6px 0}details.part>summary{cursor:pointer;font-weight:600}
.badge{display:inline-block;border-radius:3px;padding:0 6px;font-size:12px;color:#fff}
.badge.complete{background:#2e7d32}.badge.incomplete{background:#e08e00}.badge.failed{background:#c62828}
.failure{background:#fdecea;border-left:4px solid #c62828;padding:6px 10px;margin:6px 0}
.bad{color:#b71c1c}tr.bad td{background:#fdecea}tr.rep td{background:#fff7e0}
pre{background:#f3f5f8;padding:6px 8px;overflow-x:auto;margin:2px 0;font-size:12px;max-height:420px}
pre.wrap{white-space:pre-wrap}pre.code .k{color:#8b1fa9;font-weight:600}pre.code .s{color:#1b7a2e}
pre.code .n{color:#b35c00}pre.code .c{color:#6a737d;font-style:italic}pre.code .b{color:#005cc5}
.iter{border-left:3px solid #c9d3df;padding-left:10px;margin:8px 0}.reason{white-space:pre-wrap;margin:2px 0}
.out{font-size:12px;color:#5b6470;margin-top:4px}
table.list{font-size:12px;background:#fff}table.list th,table.list td{border:1px solid #e3e7ec;padding:2px 6px;vertical-align:top;text-align:left}
table.list td{max-width:560px;overflow-wrap:anywhere}
.cut{color:#8a5a00;font-size:12px}
figure{margin:6px 0}.curve figcaption,.gridbox figcaption{font-size:12px;color:#5b6470}
.gridbox{overflow-x:auto}.hover{margin-left:8px;color:#1d232b;font-weight:600}
table.grid td{width:13px;height:13px;padding:0;border:1px solid #fff}
table.grid.dense td{width:6px;height:6px;border-width:0 1px 1px 0}
table.grid th{font-size:10px;font-weight:400;text-align:right;padding:0 4px 0 0;white-space:nowrap;color:#4a5563}
table.grid th.col{height:80px;vertical-align:bottom;padding:0;width:13px}
table.grid th.col span{display:inline-block;writing-mode:vertical-rl;transform:rotate(180deg)}
table.grid.dense th.col span{font-size:6px}table.grid.dense th{font-size:7px}
td.c,i.c{background:#9ad0a0}td.m,i.m{background:#f3a7a7}
td.s0,i.s0{background-image:radial-gradient(circle,#7b0000 45%,transparent 50%)}
td.s1,i.s1{background-image:radial-gradient(circle,#c43c00 45%,transparent 50%)}
td.s2,i.s2{background-image:radial-gradient(circle,#c98f00 45%,transparent 50%)}
td.s3,i.s3{background-image:radial-gradient(circle,#6b7480 45%,transparent 50%)}
td.r,i.r{box-shadow:inset 0 0 0 2px #1d232b}
.legend i{display:inline-block;width:11px;height:11px;vertical-align:middle;margin:0 2px 0 8px}
ul.diag{margin:4px 0;padding-left:18px}footer{color:#5b6470;font-size:12px}
"""

SCRIPT = """
(function(){
var selects=[].slice.call(document.querySelectorAll('[data-filter]'));
var runs=[].slice.call(document.querySelectorAll('details.run'));
var shown=document.getElementById('shown');
function apply(){var n=0;runs.forEach(function(r){var ok=selects.every(function(s){
return !s.value||r.dataset[s.dataset.filter]===s.value;});r.hidden=!ok;if(ok)n++;});
shown.textContent=n+' of '+runs.length+' runs shown';}
selects.forEach(function(s){s.addEventListener('change',apply);});
document.getElementById('expand').addEventListener('click',function(){runs.forEach(function(r){if(!r.hidden)r.open=true;});});
document.getElementById('collapse').addEventListener('click',function(){runs.forEach(function(r){r.open=false;});});
document.addEventListener('mouseover',function(ev){var td=ev.target;if(td.tagName!=='TD')return;
var table=td.closest('table.grid');if(!table||!td.className)return;var tr=td.parentNode;
var col=table.tHead.rows[0].cells[td.cellIndex];var row=tr.cells[0];
var what=td.classList.contains('c')?'checked':'never checked';
var m=/\\bs([0-3])\\b/.exec(td.className);if(m)what+=', a finding ('+table.dataset.sev.split(',')[m[1]]+')';if(td.classList.contains('r'))what+=', reported';
table.parentNode.querySelector('.hover').textContent=row.textContent+' + '+col.textContent+': '+what;});
function openHash(){var r=location.hash&&document.getElementById(location.hash.slice(1));
if(r&&r.tagName==="DETAILS")r.open=true;}
window.addEventListener('hashchange',openHash);
apply();openHash();
})();
"""


def page_path(json_path: Path) -> Path:
    return json_path.with_suffix(".html")

