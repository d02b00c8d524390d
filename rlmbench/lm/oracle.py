"""A deterministic offline model that plays each approach's model role perfectly, for any task.

It is a real DSPy engine (`dspy.LM(..., engine=OracleEngine(schema))`): it receives the same
system and user messages a hosted model would, through DSPy's real adapters, and answers in
the format the adapter asked for. It knows the task's *schema* (lists, tools, how each tool
phrases its answers, the risk rule), never its ground truth: what it reports, it reads from
the tool results in the conversation, like a model would. What it does in each role:
- ReAct step (outputs `next_tool_name`): the next required check that the trajectory does not
  show yet, one per step (a check whose call failed transiently is made again), then the
  follow-ups its findings call for, then `finish`; in the hybrid executor, the plan's steps first.
- ReActV2 turn (outputs `tool_calls`): every required check in one turn (the architecture
  allows several calls per turn, and the oracle takes its floor), then in later turns the checks
  left without an answer and the follow-ups, then `submit` with the answer.
- RLM action (outputs `code`): first a loop over every required check that builds the typed
  answer in variables (retrying a call that raises, where a tool can fail, and branching on a
  finding's severity into its follow-ups) and prints a summary, then SUBMIT of those variables in
  the next step, as DSPy's RLM instructions ask. With `call_many` in the prompt (the batch arm),
  one batch per tool instead of the loop. The hybrid's planner writes the plan the same way.
- GEPA reflection (outputs `new_instruction`): the current instruction plus one sentence asking
  for every required check to be made.
- Anything else (ReAct extract, RLM fallback): the typed answer and a report, read from the
  tool results in the conversation.

Because its choices are perfect and free, its numbers measure each architecture's own cost
(LM calls, prompt growth, sandbox and harness time), never a model's judgement.
"""

from __future__ import annotations

import functools
import json
import re
import string
from dataclasses import dataclass
from typing import Any

from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events

from rlmbench.agents.rlm_batch import CALL_MANY
from rlmbench.lm.adapter_text import is_json_request
from rlmbench.lm.settings import ORACLE_MODEL_NAME
from rlmbench.lm.tokens import count_tokens, load_encoding
from rlmbench.results.traces import REACHED_THE_TOOL, TOOL_ERROR
from rlmbench.tasks.task import RISK_FIELD, TaskSchema, ToolSpec, check_key, check_scope, required_checks
from rlmbench.tasks.tools import can_fail, describe_finding

ORACLE_NOTICE = (
    "Offline oracle model: these numbers measure each architecture's own cost "
    "(LM calls, prompt growth, sandbox and harness time), not any model's quality."
)

_RETRY_LIMIT = 3
"""Calls the oracle makes of one check before it gives up on it, in every role: a transient failure fails the first
call only, and a check the tool rejects every time (the user's server refusing an argument) is given up, named in
the answer as not made, never guessed."""
NOT_MADE = "Checks not made (every try failed): "
"""How the oracle's answer names the checks it gave up on, in every role."""
_MORE_CALLS = "Calls still to make (failed checks again, follow-ups of findings)"
_EXTRA_TURNS = 3
"""Turns ReActV2's oracle takes after its first: follow-ups, then retries of whatever failed in the turn before."""
_SECTION = re.compile(r"^\[\[ ## (\w+) ## \]\]$", re.MULTILINE)
_RESPOND = "\n\nRespond with "


class OracleError(RuntimeError):
    """The oracle was asked something it has no scripted answer for."""


def _text(content) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(getattr(part, "text", "") or "" for part in content)


def parse_sections(text: str) -> dict[str, str]:
    """Split a ChatAdapter message into its `[[ ## name ## ]]` sections (nested trajectory keys included)."""
    text = text.split(_RESPOND, 1)[0]
    parts = _SECTION.split(text)
    return {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}


def output_fields(system: str) -> list[str]:
    block = system.split("Your output fields are:", 1)[-1].split("All interactions will be structured", 1)[0]
    return re.findall(r"^\d+\. `(\w+)`", block, re.MULTILINE)


def _format(fields: dict[str, Any], as_json: bool = False) -> str:
    """The reply in the format the adapter asked for: ChatAdapter's sections, or JSONAdapter's object."""
    if as_json:
        return json.dumps(fields)
    body = "\n\n".join(f"[[ ## {name} ## ]]\n{value if isinstance(value, str) else json.dumps(value)}"
                       for name, value in fields.items())
    return body + "\n\n[[ ## completed ## ]]"


def _load_list(raw: str, what: str) -> list:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise OracleError(f"oracle could not read `{what}` as JSON: {raw[:80]!r}") from exc
    if not isinstance(value, list):
        raise OracleError(f"oracle expected `{what}` to be a list")
    return value


# --------------------------------------------------------------------------------------------
# Reading tool results: each tool's answer templates, as regular expressions
# --------------------------------------------------------------------------------------------


def _escape(literal: str) -> str:
    """re.escape without escaping spaces and punctuation that need none: the RLM's code stays readable."""
    return re.sub(r"([.^$*+?{}\[\]\\|()])", r"\\\1", literal)


_NAME = r'[^\n"]+?'
"""An argument in a tool's answer: an item as spelled, up to the literal that follows it in the template."""


def template_pattern(template: str, tool: ToolSpec, severities: tuple[str, ...]) -> str:
    """A regex for what `template` produces, with a named group per argument and `severity`.

    It ends right after the last argument or severity and the literal text that follows it:
    the details are free text, and several results can share one line of a conversation.
    """
    pieces: list[tuple[str, bool]] = []  # (regex, names an argument or the severity)
    seen = set()
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            pieces.append((_escape(literal), False))
        if name is None:
            continue
        if name in seen:
            pieces.append((f"(?P={name})", True))
        elif name in ("severity", "SEVERITY"):
            words = [s.upper() if name == "SEVERITY" else s for s in severities]
            pieces.append(("(?P<severity>" + "|".join(map(_escape, words)) + ")", True))
            name = "severity"
        elif name in ("details", "value"):
            pieces.append((f"(?P<{name}>.*?)", False))
        else:  # a name runs to the literal after it: items may hold spaces ("New York"), never a line break
            pieces.append((f"(?P<{name}>{_NAME})", True))
        seen.add(name)
    last = max(i for i, (_, named) in enumerate(pieces) if named)
    kept = pieces[:last + 1]
    if last + 1 < len(pieces) and not pieces[last + 1][0].startswith("(?P<"):
        kept.append(pieces[last + 1])  # the literal after the last argument anchors its lazy group
    elif kept[-1][0].endswith(f"{_NAME})"):
        kept[-1] = (kept[-1][0][:-2] + ")", True)  # nothing follows: the argument runs to the end of its line
    return "".join(regex for regex, _ in kept)


@functools.cache
def _patterns(schema: TaskSchema) -> dict[str, dict[str, re.Pattern]]:
    """tool -> {"found", "clear", "value"} compiled patterns."""
    out = {}
    for tool in schema.tools:
        if tool.user_code:  # its answers are the user's: read by its matcher (_call_answers), not by templates
            continue
        entry = {"clear": re.compile(template_pattern(tool.clear, tool, schema.severities))}
        if tool.has_findings:
            entry["found"] = re.compile(template_pattern(tool.found, tool, schema.severities))
        if tool.kind == "attribute":
            entry["value"] = re.compile(template_pattern(tool.value, tool, schema.severities))
        if tool.follow_up is not None:
            entry["value"] = re.compile(_value_pattern(tool.value))
        out[tool.name] = entry
    return out


def _value_pattern(template: str) -> str:
    """A follow-up's answer with its value captured: the value is one line without quotes or backslashes
    (task_file checks), so it runs to the end of the statement."""
    regex = ""
    for literal, name, _, _ in string.Formatter().parse(template):
        regex += _escape(literal)
        if name is not None:
            regex += r'(?P<value>[^\n"\\]+?)' if name == "value" else f"(?P<{name}>{_NAME})"
    return regex + r'(?=[\n"\\]|$)'


def _line_at(text: str, start: int) -> str:
    """The tool's statement that starts at `start`: up to the end of its line (or of its JSON string)."""
    end = re.compile(r'[\n"]').search(text, start)
    return text[start:end.start() if end else len(text)].strip()


@dataclass(frozen=True)
class Statement:
    """One tool answer read back from the conversation: which check, and what it said."""

    tool: ToolSpec
    kind: str
    """found, clear or value; answered for a user's tool without a matcher (its answer cannot be read)."""
    args: dict[str, str]
    severity: str | None
    """A finding's severity, lower case."""
    line: str
    """The answer as a line of the narrative."""
    value: str | None = None
    """A follow-up's value, exactly as the tool gave it."""


def _json_answers(text: str):
    """(position, dict) of every JSON object in the text that names a check: a `returns = "json"` tool's answer,
    as DSPy shows it to the model (json.dumps of the dict)."""
    decoder = json.JSONDecoder()
    i = text.find("{")
    while i != -1:
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            value, end = None, i + 1
        if isinstance(value, dict) and "check" in value:
            yield i, value
            i = text.find("{", end)
        else:  # not an answer; an answer may sit inside it
            i = text.find("{", i + 1)


def statements(schema: TaskSchema, text: str) -> list[Statement]:
    """Every tool answer in the text, in the order they appear: sentences matched by each text tool's templates,
    and the JSON answers of json tools."""
    found: list[tuple[int, Statement]] = []
    for tool in schema.tools:
        if tool.returns != "text" or tool.user_code:
            continue
        for kind, pattern in _patterns(schema)[tool.name].items():
            for m in pattern.finditer(text):
                severity = (tool.fixed_severity or m.group("severity").lower()) if kind == "found" else None
                found.append((m.start(), Statement(tool, kind, {a: m.group(a) for a in tool.args}, severity,
                                                   _line_at(text, m.start()), m.groupdict().get("value"))))
    for at, answer in _json_answers(text):
        tool = schema.tool(str(answer["check"]))
        kind = "found" if answer.get("status") == "found" else "value" if "value" in answer else (
            "clear" if answer.get("status") == "clear" else None)
        if tool is None or tool.returns != "json" or kind is None or tool.user_code:
            continue
        args = {a: str(answer.get(a, "")) for a in tool.args}
        severity = (tool.fixed_severity or str(answer.get("severity", "")).lower()) if kind == "found" else None
        line = describe_finding(tool, args, severity, str(answer.get("details", ""))) if severity else ""
        value = str(answer["value"]) if kind == "value" else None
        found.append((at, Statement(tool, kind, args, severity, line, value)))
    if schema.user_code:
        found += _matched_statements(schema, text)
    return [statement for _, statement in sorted(found, key=lambda pair: pair[0])]


_REACT_CALL = re.compile(r"\[\[ ## tool_name_(\d+) ## \]\]\s*(\w+)\s*\[\[ ## tool_args_\1 ## \]\]\s*(.*?)\s*"
                         r"\[\[ ## observation_\1 ## \]\]\s*(.*?)(?=\s*\[\[ ## |\Z)", re.DOTALL)
_V2_BLOCK = re.compile(r'\{"tool_call(s|_results)":')


def _call_answers(text: str):
    """(position, tool name, args, answer, failed) of every tool call the text shows with its answer: ReAct's
    trajectory (tool_name_i, tool_args_i, observation_i) and ReActV2's tool_calls and tool_call_results, paired by
    call id (DSPy gives a call without one `call_<turn>_<index>`)."""
    for m in _REACT_CALL.finditer(text):
        try:
            args = json.loads(m.group(3))
        except ValueError:
            continue
        answer = m.group(4)
        yield m.start(), m.group(2), args, answer, answer.startswith(TOOL_ERROR)
    calls, turn, decoder = {}, 0, json.JSONDecoder()
    for m in _V2_BLOCK.finditer(text):
        try:
            block, _ = decoder.raw_decode(text, m.start())
        except ValueError:
            continue
        if "tool_calls" in block:
            for i, call in enumerate(block["tool_calls"] or []):
                calls[call.get("id") or f"call_{turn}_{i}"] = call
            turn += 1
            continue
        for result in block["tool_call_results"] or []:
            call = calls.get(result.get("call_id"))
            if call is not None:
                yield m.start(), call.get("name"), call.get("args") or {}, result.get("value"), bool(result.get("is_error"))


def _matched_statements(schema: TaskSchema, text: str) -> list[tuple[int, Statement]]:
    """The answers of the tools backed by the user's code, read by each tool's matcher (tasks.matcher): their
    answers need not name their check, so each is read beside the call that asked for it."""
    out = []
    for at, name, args, answer, failed in _call_answers(text):
        tool = schema.tool(str(name))
        if tool is None or not tool.user_code or failed or not isinstance(args, dict):
            continue
        args = {a: str(args.get(a, "")) for a in tool.args}
        if tool.finding is None:  # answered, but no rule says what the answer means
            out.append((at, Statement(tool, "answered", args, None, "")))
            continue
        reading = tool.finding.read(answer)
        severity = (reading.severity or tool.fixed_severity) if reading.found else None
        shown = answer if isinstance(answer, str) else json.dumps(answer)
        line = f"{tool.label} for {', '.join(args.values())}: {shown.strip().splitlines()[0] if shown.strip() else ''}"
        out.append((at, Statement(tool, "found" if reading.found else "clear", args, severity, line)))
    return out


def answer_in(schema: TaskSchema, text: str, said: list[Statement] | None = None) -> dict[str, Any]:
    """The typed answer the tool results in `text` support, and the report that goes with them (`said`: the
    text's statements, when the caller has read them already)."""
    answer: dict[str, Any] = {}
    lines, severities = [], []
    said = statements(schema, text) if said is None else said
    for tool in schema.finding_tools:
        found: dict = {}
        for statement in (s for s in said if s.tool == tool and s.kind == "found"):
            key = check_key(tool, statement.args)
            if key not in found:
                found[key] = {**statement.args, **({"severity": statement.severity} if tool.reports_severity else {})}
                severities.append(statement.severity)
                lines.append(statement.line)
        answer[tool.answer_field] = list(found.values())
        if tool.clear_field:
            clear = {check_key(tool, s.args): s.args for s in said if s.tool == tool and s.kind == "clear"}
            answer[tool.clear_field] = list(clear.values())
    for tool in schema.follow_up_tools:
        given = {check_key(tool, s.args): {**s.args, "value": s.value} for s in said
                 if s.tool == tool and s.kind == "value" and s.value is not None}
        answer[tool.answer_field] = list(given.values())
        lines += [tool.value.format(**v) for v in given.values()]
    answer[RISK_FIELD] = schema.risk.level(severities, schema.severities)
    not_made = [f"{name}({', '.join(key)})" for (name, key), failed in call_tries(schema, text).items() if all(failed)]
    answer[schema.narrative_field] = "\n".join(
        [f"Assessment from the checks made: overall risk {answer[RISK_FIELD]}."]
        + [f"- {line}" for line in lines]
        + ["No other findings in the checks above."] + ([NOT_MADE + ", ".join(not_made) + "."] if not_made else []))
    return answer


def call_tries(schema: TaskSchema, text: str) -> dict[tuple[str, tuple], list[bool]]:
    """(tool, key) -> whether each call of that check the conversation shows failed, in order: how many times a
    check was tried, and whether it ever answered (ReAct's trajectory and ReActV2's turns alike)."""
    tries: dict[tuple[str, tuple], list[bool]] = {}
    for _, name, args, _, failed in _call_answers(text):
        tool = schema.tool(str(name))
        if tool is not None and isinstance(args, dict):
            tries.setdefault((tool.name, check_key(tool, {a: str(args.get(a, "")) for a in tool.args})), []).append(
                failed)
    return tries


def follow_ups_due(schema: TaskSchema, said: list[Statement]) -> list[dict]:
    """The follow-up calls the findings in `said` require, as {"tool", "args"}: a branch on each finding's severity."""
    due = []
    for tool in schema.follow_up_tools:
        rule = tool.follow_up
        for s in said:
            if s.tool.name == rule.after and s.kind == "found" and s.severity in rule.when:
                call = {"tool": tool.name, "args": dict(zip(tool.args, (s.args[a] for a in s.tool.args)))}
                if call not in due:
                    due.append(call)
    return due


# --------------------------------------------------------------------------------------------
# The roles
# --------------------------------------------------------------------------------------------


def planned_checks(schema: TaskSchema, inputs: dict[str, list[str]]) -> list[dict]:
    """Every required check, in the order the oracle performs them."""
    return [{"tool": c.tool, "args": c.args} for c in required_checks(schema, inputs)]


def _inputs(schema: TaskSchema, sections: dict[str, str]) -> dict[str, list[str]]:
    return {spec.name: [str(v) for v in _load_list(sections.get(spec.name, "[]"), spec.name)]
            for spec in schema.lists}


def _done_key(schema: TaskSchema, name: str, args: dict) -> tuple:
    tool = schema.tool(name)
    return (name, check_key(tool, args)) if tool else (name, tuple(sorted(map(str, args.values()))))


def _reached_and_failed(observation: str) -> bool:
    """Whether a ReAct observation is the tool's own failure (transient, or the user's tool raising): worth a retry."""
    return observation.startswith(TOOL_ERROR) and any(name in observation for name in REACHED_THE_TOOL)


def _react_step(schema: TaskSchema, sections: dict[str, str], system: str, user: str) -> dict[str, Any]:
    todo = _load_list(sections["plan"], "plan") if "plan" in sections else planned_checks(
        schema, _inputs(schema, sections))
    if schema.follow_up_tools:  # after the checks, the follow-ups their findings call for
        todo = todo + follow_ups_due(schema, statements(schema, user))
    done, failures = set(), {}
    i = 0
    while f"tool_name_{i}" in sections:
        try:
            args = json.loads(sections.get(f"tool_args_{i}", "{}"))
        except json.JSONDecodeError:
            args = {}
        key = _done_key(schema, sections[f"tool_name_{i}"], args if isinstance(args, dict) else {})
        failed = _reached_and_failed(sections.get(f"observation_{i}", ""))
        if failed:  # a call the tool failed is made again, a few times
            failures[key] = failures.get(key, 0) + 1
        if not failed or failures[key] >= _RETRY_LIMIT:
            done.add(key)
        i += 1
    for step in todo:
        if not isinstance(step, dict) or "tool" not in step:
            continue
        if _done_key(schema, step["tool"], step.get("args", {})) not in done:
            if f"({step['tool']}," not in system and f") {step['tool']}," not in system:
                raise OracleError(f"oracle needs tool {step['tool']!r} but the prompt does not offer it")
            return {
                "next_thought": f"Step {i + 1}: run {step['tool']} for {', '.join(map(str, step['args'].values()))}.",
                "next_tool_name": step["tool"],
                "next_tool_args": step["args"],
            }
    return {"next_thought": f"All {len(todo)} checks are done; finishing.", "next_tool_name": "finish",
            "next_tool_args": {}}


def _loop(tool: ToolSpec) -> tuple[list[str], list[str]]:
    """The loop header over one tool's keys, and the expressions of its arguments."""
    first = tool.lists[0]
    if tool.kind == "pair":
        return [f"for _i, _a in enumerate({first}):", f"    for _b in {first}[_i + 1:]:"], ["_a", "_b"]
    if tool.kind == "cross":
        return [f"for _a in {first}:", f"    for _b in {tool.lists[1]}:"], ["_a", "_b"]
    return [f"for _a in {first}:"], ["_a"]


def _reading(tool: ToolSpec, patterns: dict[str, re.Pattern], item: str, values: list[str],
             on_finding: list[str]) -> list[str]:
    """The lines that read one answer in `_result` into the typed answer's lists: by the tool's templates for a
    text tool, by the dict's fields for a json tool; `on_finding` runs in a finding's branch."""
    if tool.user_code and tool.finding is None:  # the user's tool without a matcher: nobody can read a finding
        return []
    if tool.finding is not None:  # the user's tool: its matcher's rule, as the truth pass applied it
        lines, is_found, read_severity = tool.finding.code("_result")
        severity = read_severity or repr(tool.fixed_severity)
        if read_severity and tool.fixed_severity:
            severity = f"({read_severity} or {tool.fixed_severity!r})"
        is_clear = f"not ({is_found})"
        line = f"{tool.label!r} + ' for ' + ', '.join([{', '.join(values)}]) + ': ' + str(_result).strip()[:200]"
    elif tool.returns == "json":
        severity = repr(tool.fixed_severity) if tool.fixed_severity else 'str(_result.get("severity", "")).lower()'
        args = ", ".join(f"{a}={v}" for a, v in zip(tool.args, values))
        is_found, is_clear = '_result.get("status") == "found"', '_result.get("status") == "clear"'
        line = (f"{tool.found!r}.format({args}, severity=_severity, SEVERITY=_severity.upper(), "
                f'details=_result.get("details", ""))')
        lines = []
    else:
        severity = repr(tool.fixed_severity) if tool.fixed_severity else '_m.group("severity").lower()'
        lines = [f"_m = re.match({patterns['found'].pattern!r}, _result)"]
        is_found, is_clear = "_m", f"re.match({patterns['clear'].pattern!r}, _result)"
        line = "_result"
    lines += [f"if {is_found}:",
              f"    _severity = {severity}",
              f"    {tool.answer_field}.append({item}" + (", 'severity': _severity}" if tool.reports_severity else "}") + ")",
              "    _severities.append(_severity)",
              f"    _lines.append({line})",
              *("    " + line for line in on_finding)]
    if tool.clear_field:
        lines += [f"elif {is_clear}:", f"    {tool.clear_field}.append({item}}})"]
    return lines


def _value_read(follow: ToolSpec, item: str) -> list[str]:
    """Lines that keep the value of a follow-up's answer in `_follow` exactly, with `item` (the entries of a dict
    literal) naming its check."""
    if follow.returns == "json":
        return ['if isinstance(_follow, dict) and "value" in _follow:',
                f"    {follow.answer_field}.append({{{item}, 'value': _follow['value']}})"]
    return [f"_v = _follow and re.match({_value_pattern(follow.value)!r}, _follow)",
            "if _v:",
            f"    {follow.answer_field}.append({{{item}, 'value': _v.group('value')}})"]


def _following(schema: TaskSchema, tool: ToolSpec, values: list[str], retries: bool) -> list[str]:
    """Inside a finding's branch: each follow-up its severity calls for, and its value kept exactly."""
    lines = []
    for follow in (f for f in schema.follow_up_tools if f.follow_up.after == tool.name):
        call = ", ".join(f"{a}={v}" for a, v in zip(follow.args, values))
        item = ", ".join(f"{a!r}: {v}" for a, v in zip(follow.args, values))
        lines += [f"if _severity in {follow.follow_up.when!r}:",
                  f"    _follow = _call({follow.name}, {call})" if retries else f"    _follow = {follow.name}({call})",
                  *("    " + line for line in _value_read(follow, item))]
    return lines


def _answer_lists(schema: TaskSchema) -> list[str]:
    """The cell's first lines: an empty list for each field of the typed answer the loops fill."""
    lines = []
    for tool in schema.finding_tools:
        lines.append(f"{tool.answer_field} = []")
        if tool.clear_field:
            lines.append(f"{tool.clear_field} = []")
    return lines + [f"{tool.answer_field} = []" for tool in schema.follow_up_tools]


def _answer_lines(schema: TaskSchema, gives_up: bool) -> list[str]:
    """The cell's last lines: the overall risk by the task's rule, the narrative, a printed summary. `gives_up`:
    the cell keeps the checks it gave up on in `_unmade`, and the narrative names them."""
    rank = dict(schema.risk.by_severity)
    not_made = f' + ([{NOT_MADE!r} + ", ".join(_unmade) + "."] if _unmade else [])' if gives_up else ""
    return [
        f"{RISK_FIELD} = next(({rank!r}[s] for s in {list(schema.severities)!r} if s in _severities), "
        f"{schema.risk.none!r})",
        f'{schema.narrative_field} = "\\n".join([f"Checked {{_made}} combinations with the tools; overall risk '
        f'{{{RISK_FIELD}}}."] + [f"- {{line}}" for line in _lines] + ["No other findings in the checks above."]'
        f'{not_made})',
        f'print(f"{{len(_lines)}} findings in {{_made}} checks; overall risk {{{RISK_FIELD}}}")',
    ]


def _imports(schema: TaskSchema) -> str:
    """The cell's first line: json only where a matcher reads dict answers (a built-in task's code is unchanged)."""
    return "import json, re" if any(tool.finding is not None for tool in schema.tools) else "import re"


def check_code(schema: TaskSchema) -> str:
    """The RLM's first cell: every required check in loops, the typed answer built in variables."""
    patterns = _patterns(schema)
    lines = [_imports(schema), "_severities, _lines, _made = [], [], 0"]
    retries = can_fail(schema) or schema.user_code  # the user's code may raise
    if retries:  # a call that raises is retried; a check that never answers is named as not made, not guessed
        lines += ["_unmade = []",
                  "def _call(_tool, **_args):",
                  f"    for _attempt in range({_RETRY_LIMIT}):",
                  "        try:",
                  "            return _tool(**_args)",
                  "        except Exception as _error:",
                  '            print(f"retrying {_tool.__name__}: {_error}")',
                  '    _unmade.append(_tool.__name__ + "(" + ", ".join(map(str, _args.values())) + ")")',
                  "    return None"]
    lines += _answer_lists(schema)
    for tool in schema.required_tools:
        header, values = _loop(tool)
        call = ", ".join(f"{a}={v}" for a, v in zip(tool.args, values))
        item = "{" + ", ".join(f"{a!r}: {v}" for a, v in zip(tool.args, values))
        body = ([f"_result = _call({tool.name}, {call})", "if _result is None:", "    continue", "_made += 1"]
                if retries else ["_made += 1", f"_result = {tool.name}({call})"])
        if tool.has_findings:
            body += _reading(tool, patterns.get(tool.name, {}), item, values, _following(schema, tool, values, retries))
        lines += header + ["    " * len(header) + line for line in body]
    lines += _answer_lines(schema, retries)
    return "\n".join(lines)


def _batch_calls(tool: ToolSpec, values: list[str], into: str) -> list[str]:
    """A comprehension building the keyword arguments of every key of a tool, in the loop order of _loop."""
    header, _ = _loop(tool)
    loops = " ".join(line.strip().rstrip(":") for line in header)
    kwargs = "dict(" + ", ".join(f"{a}={v}" for a, v in zip(tool.args, values)) + ")"
    return [f"{into} = [{kwargs} {loops}]"]


def batch_code(schema: TaskSchema) -> str:
    """The batch arm's first cell: each tool's checks in one call_many, the failed ones again in another, the
    follow-ups of the findings in a third; the answer built in variables as in check_code."""
    patterns = _patterns(schema)
    lines = [_imports(schema), "_severities, _lines, _made = [], [], 0", "_unmade = []",
             "def _batch(_tool, _calls):",
             f"    _results = {CALL_MANY}(_tool, _calls)",
             f"    for _attempt in range({_RETRY_LIMIT - 1}):",
             '        _again = [_i for _i, _r in enumerate(_results) if isinstance(_r, dict) and set(_r) == {"error"}]',
             "        if not _again:",
             "            break",
             f"        for _i, _r in zip(_again, {CALL_MANY}(_tool, [_calls[_i] for _i in _again])):",
             "            _results[_i] = _r",
             '    _failed = [isinstance(_r, dict) and set(_r) == {"error"} for _r in _results]',
             '    _unmade.extend(_tool + "(" + ", ".join(map(str, _c.values())) + ")" for _c, _f in zip(_calls, _failed) if _f)',
             "    return [(_c, _r) for _c, _r, _f in zip(_calls, _results, _failed) if not _f]"]
    lines += _answer_lists(schema) + [f"_due_{follow.name} = []" for follow in schema.follow_up_tools]
    for tool in schema.required_tools:
        values = [f"_a{i}" for i in range(len(tool.args))]
        item = "{" + ", ".join(f"{a!r}: {v}" for a, v in zip(tool.args, values))
        lines += _batch_calls(tool, ["_a", "_b"][:len(tool.args)], "_calls")
        lines.append(f"for _args, _result in _batch({tool.name!r}, _calls):")
        body = ["_made += 1", f"{', '.join(values)}, = _args.values()"]
        if tool.has_findings:
            due = [f"if _severity in {f.follow_up.when!r}:\n    _due_{f.name}.append(dict("
                   + ", ".join(f"{fa}={v}" for fa, v in zip(f.args, values)) + "))"
                   for f in schema.follow_up_tools if f.follow_up.after == tool.name]
            body += _reading(tool, patterns.get(tool.name, {}), item, values,
                             [line for block in due for line in block.split("\n")])
        lines += ["    " + line for line in body]
    for follow in schema.follow_up_tools:
        lines.append(f"for _args, _follow in _batch({follow.name!r}, _due_{follow.name}):")
        lines += ["    " + line for line in _value_read(follow, "**_args")]
    lines += _answer_lines(schema, gives_up=True)
    return "\n".join(lines)


def plan_code(schema: TaskSchema) -> str:
    """The hybrid planner's first cell: the list of every required check."""
    lines = ["plan = []"]
    for tool in schema.required_tools:
        header, values = _loop(tool)
        args = "{" + ", ".join(f"{a!r}: {v}" for a, v in zip(tool.args, values)) + "}"
        lines += header + ["    " * len(header) + f"plan.append({{'tool': {tool.name!r}, 'args': {args}}})"]
    lines.append('print(len(plan), "checks planned; first:", plan[:2])')
    return "\n".join(lines)


def _rlm_step(schema: TaskSchema, sections: dict[str, str], system: str) -> dict[str, str]:
    submit = re.search(r"`SUBMIT\(([^)]*)\)`", system)
    names = [n.strip() for n in submit.group(1).split(",")] if submit else []
    if not names:
        raise OracleError("oracle found no SUBMIT(...) signature in the RLM prompt")
    history = sections.get("repl_history", "")
    steps = len(re.findall(r"^=== Step \d+ ===$", history, re.MULTILINE))
    if steps == 0:
        build = (plan_code(schema) if names == ["plan"]
                 else batch_code(schema) if f"{CALL_MANY}(" in system else check_code(schema))
        return {"reasoning": "Loop over every required check with the tools, and collect the findings.",
                "code": f"```python\n{build}\n```"}
    return {"reasoning": "The loop ran and collected its findings; submit them.",
            "code": f"```python\nSUBMIT({', '.join(f'{n}={n}' for n in names)})\n```"}


def _final_answer(schema: TaskSchema, fields: list[str], conversation: str) -> dict[str, Any]:
    found = answer_in(schema, conversation)
    answer: dict[str, Any] = {}
    for name in fields:
        if name == "reasoning":
            count = sum(len(found[t.answer_field]) for t in schema.finding_tools)
            answer[name] = f"The tool results show {count} findings."
        elif name == "plan":
            answer[name] = []
        else:
            answer[name] = found.get(name, found[schema.narrative_field])
    return answer


def _react_v2_turn(schema: TaskSchema, system: str, conversation: str) -> dict[str, Any]:
    """All checks in the first turn, then the checks left unanswered and the follow-ups, then submit: the fewest
    turns ReActV2 allows."""
    for tool in schema.required_tools:
        if tool.name not in system and tool.name not in conversation:
            raise OracleError(f"oracle needs tool {tool.name!r} but the prompt does not offer it")
    checks = required_checks(schema, _inputs(schema, parse_sections(conversation)))
    tries = call_tries(schema, conversation)  # read once each: the conversation grows with every turn
    if not tries:
        return {"next_thought": f"Run all {len(checks)} checks at once.",
                "tool_calls": {"tool_calls": [{"name": c.tool, "args": c.args} for c in checks]}}
    said = statements(schema, conversation)
    settled = {(st.tool.name, check_key(st.tool, st.args)) for st in said}  # answered, or given up on:
    settled |= {check for check, failed in tries.items() if not all(failed) or len(failed) >= _RETRY_LIMIT}
    again = [{"tool": c.tool, "args": c.args} for c in checks if (c.tool, c.key) not in settled]
    again += [call for call in follow_ups_due(schema, said)
              if (call["tool"], check_key(schema.tool(call["tool"]), call["args"])) not in settled]
    if again and conversation.count(_MORE_CALLS) < _EXTRA_TURNS:
        return {"next_thought": f"{_MORE_CALLS}: {len(again)}.",
                "tool_calls": {"tool_calls": [{"name": c["tool"], "args": c["args"]} for c in again]}}
    wanted = re.search(r"call `submit` with (.*)", system)
    names = re.findall(r"`(\w+)`", wanted.group(1)) if wanted else []
    answer = {k: v for k, v in answer_in(schema, conversation, said).items() if k in names}
    return {"next_thought": "Every check has a result; submit the answer.",
            "tool_calls": {"tool_calls": [{"name": "submit", "args": answer}]}}


def coverage_guidance(schema: TaskSchema) -> str:
    """The sentence GEPA's oracle reflection adds: make every required check, in code."""
    return ("Call " + ", ".join(f"{t.name} on {'' if t.kind == 'attribute' else 'all '}{check_scope(t)}"
                                for t in schema.required_tools)
            + ", looping over them in code, before you write the answer; report each finding with its severity.")


def _propose_instruction(schema: TaskSchema, sections: dict[str, str]) -> dict[str, str]:
    """GEPA reflection: keep the current instruction and add the coverage guidance once."""
    current = sections.get("current_instruction", "").strip()
    guidance = coverage_guidance(schema)
    if guidance in current:
        return {"new_instruction": current}
    return {"new_instruction": f"{current}\n\n{guidance}".strip()}


def respond(schema: TaskSchema, system: str, user: str, conversation: str | None = None) -> str:
    """The oracle's whole policy: the reply text for one request on a task with this schema.

    `user` is the last user message; `conversation` is every message after the system prompt
    (earlier turns of a multi-turn history included), and defaults to `user`.
    """
    conversation = user if conversation is None else conversation
    fields = output_fields(system)
    sections = parse_sections(user)
    as_json = is_json_request(user)
    if "new_instruction" in fields:
        return _format(_propose_instruction(schema, sections), as_json)
    if "next_tool_name" in fields:
        return _format(_react_step(schema, sections, system, user), as_json)
    if "tool_calls" in fields:
        return _format(_react_v2_turn(schema, system, conversation), as_json)
    if "code" in fields:
        return _format(_rlm_step(schema, sections, system), as_json)
    if not fields:
        raise OracleError("oracle found no output fields in the system prompt (is this a DSPy adapter request?)")
    return _format(_final_answer(schema, fields, conversation), as_json)


class OracleEngine:
    """A `dspy.LM` engine: complete(Request) -> Response, with real token counts."""

    def __init__(self, schema: TaskSchema) -> None:
        self.schema = schema
        load_encoding()  # load the tokenizer now, not inside the first timed run

    def complete(self, request):
        system = _text(request.system)
        messages = [_text(m.parts) for m in request.messages]
        user = next((text for m, text in zip(reversed(request.messages), reversed(messages)) if m.role == "user"), "")
        text = respond(self.schema, system, user, "\n\n".join(messages))
        usage = Usage(input_tokens=count_tokens(system) + sum(count_tokens(m) for m in messages),
                      output_tokens=count_tokens(text))
        return Response(id=None, model=ORACLE_MODEL_NAME, message=Message.assistant([TextPart(text)]),
                        finish_reason="stop", usage=usage)

    def stream(self, request):
        return response_to_events(self.complete(request))

    def close(self) -> None:
        pass

    def dump_state(self) -> dict:
        return {}

    @classmethod
    def load_state(cls, state: dict) -> "OracleEngine":
        raise OracleError("an oracle engine is built for a task schema; build it with OracleEngine(schema)")
