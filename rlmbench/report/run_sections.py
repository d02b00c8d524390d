"""One run as the HTML page shows it: outcome, coverage grid, findings, and its whole trace.

Every string that came from a model, a tool or a file goes through `esc`, so an answer of
`<script>alert(1)</script>` is shown as text and never runs. A run's steps are drawn from the
sections its approach's trace kind gives (results.traces): a table of ReAct steps, code
iterations, a plan, turns of tool calls; `SECTION_DRAWERS` has one drawer for each kind. A long list shows its first `HEAD` and last `TAIL`
entries (where a run starts, and where it stopped), a long text its first `TEXT_LIMIT`
characters, each with a line saying what was left out: the traces file holds all of it.
"""

from __future__ import annotations

import builtins
import html
import io
import json
import keyword
import tokenize
from dataclasses import dataclass

from rlmbench.report.coverage_grid import Grid, key_label
from rlmbench.report.rows import DIAGNOSTIC_ITEMS
from rlmbench.report.timeline import timeline_svg
from rlmbench.results.meta import Arm
from rlmbench.results.records import OUTCOMES, TIME_PARTS, RunRecord
from rlmbench.results.traces import TRACE_KINDS, TraceSection
from rlmbench.scoring.findings import ToolFindings
from rlmbench.words import counted

HEAD, TAIL = 40, 15
"""Entries of a long list (ledger, steps, LM calls, plan, turns) drawn from its start and its end."""
LIST_LIMIT = 200
"""Keys named in one findings line."""
TEXT_LIMIT = 2000
"""Characters of one text (a reply, an observation, a cell's output) drawn."""
_BUILTINS = frozenset(dir(builtins))


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


@dataclass(frozen=True)
class RunPage:
    """Everything one run's section shows, gathered before any HTML is written."""

    record: RunRecord
    arm: Arm | None
    """The approach as the results header records it; None for an approach the header does not name."""
    trace: dict | None
    """None when the traces file has no line for this run."""
    grids: list[Grid]
    findings: list[ToolFindings] | None
    """None without a structured answer or without the ground truth."""
    severities: tuple[str, ...]
    note: str = ""
    """Why grids or findings are missing, when they are."""


def _cut(text: object) -> str:
    text = "" if text is None else str(text)
    if len(text) <= TEXT_LIMIT:
        return esc(text)
    left = len(text) - TEXT_LIMIT
    return esc(text[:TEXT_LIMIT]) + f'<span class="cut">... {left:,} more characters in the traces file</span>'


def _pre(text: object, cls: str = "") -> str:
    return f'<pre class="{cls}">{_cut(text)}</pre>'


def _args(args: object) -> str:
    if isinstance(args, dict):
        return _cut(", ".join(f"{k}={v}" for k, v in args.items()))
    return _cut(json.dumps(args, default=str))


def _listing(items: list, draw, what: str, table: bool = True) -> str:
    """Each entry drawn by draw(position, entry), 1-based; a long list's middle is one line saying how much."""
    if len(items) <= HEAD + TAIL:
        return "".join(draw(i, item) for i, item in enumerate(items, 1))
    gap = f"... {len(items) - HEAD - TAIL:,} more {what} here, in the traces file"
    middle = f'<tr><td colspan="9" class="cut">{gap}</td></tr>' if table else f'<p class="cut">{gap}</p>'
    return ("".join(draw(i, item) for i, item in enumerate(items[:HEAD], 1)) + middle
            + "".join(draw(i, item) for i, item in enumerate(items[-TAIL:], len(items) - TAIL + 1)))


def highlight_python(code: str) -> str:
    """Python as escaped HTML with spans for keywords, names of builtins, strings, numbers and comments.
    Code that does not tokenize (a model's broken cell) is shown plain."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return esc(code)
    starts = [0]
    for line in code.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    out, pos = [], 0
    for tok in tokens:
        if tok.type in (tokenize.ENDMARKER, tokenize.NEWLINE, tokenize.NL, tokenize.INDENT, tokenize.DEDENT):
            continue
        begin = starts[tok.start[0] - 1] + tok.start[1]
        end = starts[tok.end[0] - 1] + tok.end[1]
        if begin < pos:
            continue
        out.append(esc(code[pos:begin]))
        cls = {tokenize.STRING: "s", tokenize.NUMBER: "n", tokenize.COMMENT: "c"}.get(tok.type)
        if tok.type == tokenize.NAME:
            cls = "k" if keyword.iskeyword(tok.string) else ("b" if tok.string in _BUILTINS else None)
        text = esc(code[begin:end])
        out.append(f'<span class="{cls}">{text}</span>' if cls else text)
        pos = end
    out.append(esc(code[pos:]))
    return "".join(out)


def _code(code: object) -> str:
    text = "" if code is None else str(code)
    if len(text) > TEXT_LIMIT * 4:
        return _pre(text, "code")
    return f'<pre class="code">{highlight_python(text)}</pre>'


def _section(title: str, body: str, open_: bool = False) -> str:
    return f'<details class="part"{" open" if open_ else ""}><summary>{esc(title)}</summary>{body}</details>'


def _grid_html(grid: Grid, severities: tuple[str, ...]) -> str:
    rank = {s: min(i, 3) for i, s in enumerate(severities)}
    dense = " dense" if len(grid.cols) > 30 else ""
    head = "".join(f'<th class="col"><span>{esc(c)}</span>' for c in grid.cols)
    body = []
    for name, cells in zip(grid.rows, grid.cells):
        tds = []
        for cell in cells:
            if cell is None:
                tds.append("<td>")
                continue
            cls = "c" if cell.checked else "m"
            if cell.severity is not None:
                cls += f" s{rank.get(cell.severity, 3)}"
            if cell.reported:
                cls += " r"
            if cell.lost:
                cls += " l"
            if cell.follow_up:
                cls += " f" if cell.follow_up == "made" else " fm"
            tds.append(f'<td class="{cls}">')
        body.append(f"<tr><th>{esc(name)}{''.join(tds)}")
    checked = sum(c is not None and c.checked for row in grid.cells for c in row)
    return (f'<figure class="gridbox"><figcaption>{esc(grid.scope)}: {checked:,} of {grid.size:,} checks made '
            f'<span class="hover"></span></figcaption><table class="grid{dense}" '
            f'data-sev="{esc(",".join(severities[:4]))}"><thead><tr><th>{head}</thead>'
            f'<tbody>{"".join(body)}</tbody></table></figure>')


def _findings_html(findings: list[ToolFindings], record: RunRecord) -> str:
    parts = []
    for f in findings:
        def keys(found: set, with_truth: bool = True) -> str:
            if not found:
                return "none"
            shown = sorted(found)[:LIST_LIMIT]
            text = ", ".join(key_label(k) + (f" ({f.truth[k]})" if with_truth and k in f.truth else "")
                             for k in shown)
            return esc(text) + (f" ... and {len(found) - LIST_LIMIT:,} more" if len(found) > LIST_LIMIT else "")

        truth, reported = set(f.truth), set(f.reported)
        missed = truth - reported
        rows = [
            ("Found (reported and true)", keys(f.found)),
            ("Missed, checked but not reported", keys(missed & f.made)),
            ("Missed, never checked", keys(missed - f.made)),
            ("Reported without a check", keys(f.unchecked)),
            ("Reported, not a finding", keys(reported - truth, with_truth=False)),
        ]
        if f.tool.reports_severity:
            wrong = {k for k in f.found if f.reported[k] != f.truth[k]}
            rows.append(("Found with another severity",
                         esc(", ".join(f"{key_label(k)} (said {f.reported[k] or 'none'}, true {f.truth[k]})"
                                       for k in sorted(wrong))) if wrong else "none"))
        if f.cleared is not None:
            rows.append(("Claimed clear, never checked", keys(f.cleared - f.made, with_truth=False)))
        cells = "".join(f"<tr><th>{esc(name)}</th><td>{value}</td></tr>" for name, value in rows)
        parts.append(f'<h4>{esc(f.tool.answer_field)} ({esc(f.tool.name)}): {len(f.found)} of {len(truth)} true '
                     f'findings reported, {len(reported)} reported</h4><table class="kv">{cells}</table>')
    score = record.answer_score
    if score is not None:
        right = "right" if score.overall_risk == score.expected_risk else "wrong"
        parts.append(f"<p>Overall risk: answered <b>{esc(score.overall_risk)}</b>, the task's rule gives "
                     f"<b>{esc(score.expected_risk)}</b> ({right}).</p>")
    return "".join(parts)


def _steps_html(section: TraceSection) -> str:
    """A ReAct trajectory: thought_i, tool_name_i, tool_args_i, observation_i."""
    trajectory = section.items
    steps = []
    while any(f"{part}_{len(steps)}" in trajectory for part in ("thought", "tool_name", "observation")):
        steps.append(len(steps))
    rows = _listing(steps, lambda n, i: (
        f"<tr><td>{n}</td><td>{_cut(trajectory.get(f'thought_{i}'))}</td>"
        f"<td>{esc(trajectory.get(f'tool_name_{i}', ''))}</td><td>{_args(trajectory.get(f'tool_args_{i}', {}))}</td>"
        f"<td>{_cut(trajectory.get(f'observation_{i}'))}</td></tr>"), "steps")
    return ('<table class="list"><thead><tr><th>#<th>Thought<th>Tool<th>Arguments<th>Observation</thead>'
            f"<tbody>{rows}</tbody></table>")


def _iterations_html(section: TraceSection) -> str:
    """RLM iterations: the model's reasoning, the code it wrote, what the sandbox printed."""
    iterations = section.items
    def draw(i: int, step) -> str:
        step = step if isinstance(step, dict) else {"output": step}
        error = f'<div class="out bad">Error</div>{_pre(step["error"])}' if step.get("error") else ""
        return (f'<div class="iter"><h5>Iteration {i}</h5><p class="reason">{_cut(step.get("reasoning"))}</p>'
                f'{_code(step.get("code"))}<div class="out">Output</div>{_pre(step.get("output"))}{error}</div>')
    return _listing(iterations, draw, "iterations", table=False)


def _cells_html(cells: list) -> str:
    def draw(_: int, cell: dict) -> str:
        state = ("" if cell.get("returned", True) else ' <span class="bad">still running when the run was recorded'
                 '</span>')
        error = (f'<div class="out bad">Error</div>{_pre(cell.get("error"))}' if cell.get("error") else "")
        output = f'<div class="out">Output</div>{_pre(cell.get("output"))}' if cell.get("output") else ""
        return (f'<div class="iter"><h5>Cell {esc(cell.get("index", "?"))}{state}</h5>{_code(cell.get("code"))}'
                f"{output}{error}</div>")
    return _listing(cells, draw, "cells", table=False)


def _plan_html(section: TraceSection) -> str:
    plan = section.items
    rows = _listing(plan, lambda i, step: (
        f"<tr><td>{i}</td><td>{esc(step.get('tool', '') if isinstance(step, dict) else step)}</td>"
        f"<td>{_args(step.get('args', {}) if isinstance(step, dict) else '')}</td></tr>"), "planned calls")
    return f'<table class="list"><thead><tr><th>#<th>Tool<th>Arguments</thead><tbody>{rows}</tbody></table>'


def _turns_html(section: TraceSection) -> str:
    """Turns of tool calls the model made in parallel (ReActV2's, smolagents' ToolCallingAgent's): a thought, the
    calls and their results; where the framework shows a turn's results as one text, or the turn failed, that too."""
    turns = section.items
    def draw(i: int, turn: dict) -> str:
        calls = turn.get("tool_calls") or []
        rows = _listing(calls, lambda j, c: (
            f"<tr{' class=bad' if c.get('error') else ''}><td>{j}</td><td>{esc(c.get('name', ''))}</td>"
            f"<td>{_args(c.get('args', {}))}</td><td>{_cut(c.get('result'))}</td></tr>"), "calls")
        shown = (f'<div class="out">Results as shown to the model</div>{_pre(turn["observations"])}'
                 if turn.get("observations") and any(c.get("result") is None for c in calls) else "")
        error = f'<div class="out bad">Error</div>{_pre(turn["error"])}' if turn.get("error") else ""
        return (f'<div class="iter"><h5>Turn {i}: {counted(len(calls), "tool call")}</h5>'
                f'<p class="reason">{_cut(turn.get("thought"))}</p><table class="list"><thead><tr><th>#<th>Tool'
                f'<th>Arguments<th>Result</thead><tbody>{rows}</tbody></table>{shown}{error}</div>')
    return _listing(turns, draw, "turns", table=False)


SECTION_DRAWERS = {"react_steps": _steps_html, "code_iterations": _iterations_html, "plan": _plan_html,
                   "tool_turns": _turns_html}
"""How each kind of trace section (results.traces.SectionKind) is drawn."""


def _ledger_html(calls: list, repeated: set[int]) -> str:
    def draw(i: int, c: dict) -> str:
        outcome = c.get("outcome") or ("answered" if c.get("valid", True) else "invalid")
        timing = f"{float(c['at_s']):.3f} s, {1000 * float(c['duration_s']):.0f} ms" if "duration_s" in c else ""
        cls = " class=bad" if outcome != "answered" else (" class=rep" if i in repeated else "")
        return (f"<tr{cls}><td>{i}</td><td>{esc(c.get('tool', ''))}</td><td>{_args(c.get('args', {}))}</td>"
                f"<td>{esc(outcome.replace('_', ' '))}{', repeated' if i in repeated else ''}</td>"
                f"<td>{esc(timing)}</td></tr>")
    return (f'<table class="list"><thead><tr><th>#<th>Tool<th>Arguments<th>Outcome<th>At, duration</thead>'
            f'<tbody>{_listing(calls, draw, "tool calls")}</tbody></table>')


CUT_AT_BUDGET = "cut at --timeout"
"""An LM call's finish when the run's budget ran out with it in flight: closed, no reply read, no usage reported."""


def _lm_call_ending(c: dict) -> str:
    """How a call ended, in its table's Finish cell: the provider's reason, or why there is none."""
    if c.get("finish_reason"):
        return str(c["finish_reason"])
    return CUT_AT_BUDGET if c.get("cancelled") else "failed" if c.get("error") else "n/a"


def _lm_calls_html(calls: list) -> str:
    def tokens(c: dict, name: str) -> str:
        value = c.get(name)
        return f"{value:,}" if isinstance(value, int) else "none reported"

    def draw(_: int, c: dict) -> str:
        if c.get("reply") is not None:
            reply = (f"<details><summary>reply, {len(c['reply']):,} characters</summary>{_pre(c['reply'])}"
                     "</details>")
        elif c.get("cancelled"):
            reply = '<span class="bad">closed at the run\'s budget; no reply was read</span>'
        else:
            reply = f'<span class="bad">{esc(c.get("error") or "")}</span>'
        bad = " class=bad" if c.get("finish_reason") == "length" or c.get("cancelled") else ""
        return (f"<tr{bad}><td>{esc(c.get('index', ''))}</td><td>{float(c.get('at_s') or 0):.2f} s</td>"
                f"<td>{esc(c.get('request_format', ''))}</td><td>{int(c.get('request_chars') or 0):,}</td>"
                f"<td>{tokens(c, 'prompt_tokens')}</td><td>{tokens(c, 'completion_tokens')}</td>"
                f"<td>{esc(_lm_call_ending(c))}</td><td>{reply}</td></tr>")
    return ('<table class="list"><thead><tr><th>#<th>At<th>Format<th>Request chars<th>Prompt tokens'
            f'<th>Completion tokens<th>Finish<th>Reply</thead><tbody>{_listing(calls, draw, "LM calls")}</tbody>'
            "</table>")


def token_curve(record: RunRecord) -> str:
    """Prompt tokens of each LM call, as an inline SVG line: a ReAct run's growing prompt at a glance."""
    values = [u.prompt_tokens for u in record.usage_per_call]
    if len(values) < 2:
        return ""
    width, height, top = 320.0, 70.0, max(values) or 1
    step = width / (len(values) - 1)
    points = " ".join(f"{i * step:.1f},{height - height * v / top:.1f}" for i, v in enumerate(values))
    return (f'<figure class="curve"><svg viewBox="-2 -2 {width + 4:.0f} {height + 4:.0f}" width="{width + 4:.0f}" '
            f'height="{height + 4:.0f}" role="img" aria-label="prompt tokens per LM call"><polyline fill="none" '
            f'stroke="#4C72B0" stroke-width="1.5" points="{points}"/></svg><figcaption>prompt tokens per LM call: '
            f"{values[0]:,} at call 1, {values[-1]:,} at call {len(values):,}, largest {top:,}</figcaption></figure>")


def _diagnostics_html(record: RunRecord) -> str:
    """The summary's own diagnostic items (tables.DIAGNOSTIC_ITEMS), for this run: where each happened."""
    items = [f"<li>steps used: {esc(_steps_used(record))}</li>"] if record.diagnostics.steps_used is not None else []
    for item in DIAGNOSTIC_ITEMS:
        where = item.where(record)
        if not where:
            continue
        if item.field == "submitted":
            items.append("<li>SUBMIT / final_answer never called: the framework forced an answer at the step "
                         "limit</li>")
            continue
        shown = ", ".join(str(v) for v in where[:50]) + (" ..." if len(where) > 50 else "")
        tools = (f"; tools {', '.join(record.diagnostics.shadowed_tools)}"
                 if item.field == "cells_shadowing_tools" and record.diagnostics.shadowed_tools else "")
        items.append(f"<li>{esc(item.label)}: {len(where):,} (at {esc(shown)}{esc(tools)})</li>")
    return f'<ul class="diag">{"".join(items)}</ul>' if items else "<p>No problem detected in the trace.</p>"


def run_summary_line(record: RunRecord, label: str) -> str:
    state = record.outcome
    where = f" {record.case}" if record.case else ""
    badge = OUTCOMES[state] + (f": {record.failure.category}" if record.failure else "")
    return (f'<span class="badge {state}">{esc(badge)}</span> <b>{esc(record.model)}</b> {esc(label)}'
            f"{esc(where)} run {record.run}: {record.wall_time_s:.2f} s, checks {record.coverage.covered:,}/"
            f"{record.coverage.required:,}, LM calls {record.lm_calls:,}, tokens {record.total_tokens:,}")


def _steps_used(r: RunRecord) -> str:
    d = r.diagnostics
    if d.steps_used is None:
        return "n/a"
    return (f"{d.steps_used}" + (f" of {d.step_limit}" if d.step_limit else "")
            + (" (hit the iteration limit)" if d.hit_step_limit else "")
            + (" (counted from its log: the trace did not come back)" if d.steps_from_log else ""))


def run_html(page: RunPage, anchor: str) -> str:
    r, trace = page.record, page.trace or {}
    kind = TRACE_KINDS.get(page.arm.trace_kind) if page.arm else None
    label = page.arm.label if page.arm else r.approach
    step_word = kind.step_word if kind else "steps"
    parts = []
    if r.failure:
        parts.append(f'<div class="failure"><b>{esc(r.failure.category)}</b>: {esc(r.failure.type)}: '
                     f"{_cut(r.failure.message)}"
                     + (f"<details><summary>traceback</summary>{_pre(r.failure.traceback)}</details>"
                        if r.failure.traceback else "") + "</div>")
    figures = [("Wall time", f"{r.wall_time_s:.3f} s"),
               ("Sandbox boot", "n/a (no sandbox)" if r.sandbox_boot_s is None else
                f"{r.sandbox_boot_s:.2f} s, {'in' if r.sandbox_boot_in_wall_time else 'not in'} wall time"),
               ("LM calls", f"{r.lm_calls:,}"), ("Prompt / completion tokens",
                                                  f"{r.prompt_tokens:,} / {r.completion_tokens:,}"
                                                  if r.usage_per_call else "none reported (no LM call answered)"),
               ("Cost", "n/a (no price)" if r.cost_usd is None else f"${r.cost_usd:.5f}"),
               ("Tool calls", f"{r.coverage.tool_calls:,} ({len(r.diagnostics.invalid_tool_calls):,} invalid)"),
               (step_word.capitalize(), _steps_used(r))]
    # A timed-out run was stopped mid-call: the call in flight is in no part, so its split would mislead.
    timed_out = r.failure is not None and r.failure.category == "timeout"
    split = r.time_split.parts(r.wall_time_s) if r.time_split and not timed_out else None
    if split:
        figures.append(("Where the time went", ", ".join(f"{name.lower()} {split[key]:.3f} s"
                                                          for key, name in TIME_PARTS)))
    parts.append('<table class="kv">' + "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in figures)
                 + "</table>" + token_curve(r) + timeline_svg(trace, r.wall_time_s))
    parts.append(_section("Diagnostics", _diagnostics_html(r), open_=True))
    if page.grids:
        grids = "".join(_grid_html(g, page.severities) for g in page.grids)
        parts.append(_section("Coverage", grids, open_=True))
    if page.note:
        parts.append(f'<p class="note">{esc(page.note)}</p>')
    if page.findings is not None:
        parts.append(_section("Findings against the ground truth", _findings_html(page.findings, r), open_=True))
    if r.narrative:
        parts.append(_section("Answer (narrative)", _pre(r.narrative, "wrap")))
    sections = kind.sections(trace) if kind else []
    if page.trace is None:
        parts.append('<p class="note">No trace line for this run in the traces file.</p>')
    elif r.failure and not sections:
        logs = "LM calls, sandbox cells and tool ledger" if page.arm and page.arm.runs_code else "LM calls and tool ledger"
        parts.append(f'<p class="note">The run ended without returning its steps: what it did is in the {logs} '
                     'below, as they were recorded.</p>')
    for section in sections:
        parts.append(_section(section.title, SECTION_DRAWERS[section.kind](section), open_=section.open))
    if isinstance(trace.get("code_cells"), list):
        cells = trace["code_cells"]
        parts.append(_section(f"Sandbox cells as run: {len(cells):,}", _cells_html(cells),
                              open_=not any(s.kind == "code_iterations" and s.open for s in sections)))
    if "tool_calls" in trace:
        calls = trace["tool_calls"]
        parts.append(_section(f"Tool ledger: {len(calls):,} calls",
                              _ledger_html(calls, set(r.diagnostics.repeated_tool_calls))))
    if "lm_calls" in trace:
        parts.append(_section(f"LM calls: {len(trace['lm_calls']):,}", _lm_calls_html(trace["lm_calls"])))
    return (f'<details class="run" id="{esc(anchor)}" data-model="{esc(r.model)}" data-approach="{esc(r.approach)}" '
            f'data-outcome="{r.outcome}" data-case="{esc(r.case or "")}"><summary>{run_summary_line(r, label)}</summary>'
            f'<div class="body">{"".join(parts)}</div></details>')
