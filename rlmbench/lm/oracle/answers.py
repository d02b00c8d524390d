"""Reading tool answers back from a conversation, as a model reads them: each table tool's answer templates as
regular expressions, a JSON tool's dicts by the check they name, a user tool's answers by its matcher beside the
call that asked for it; and from those, the typed answer they support, the follow-ups they call for, and the checks
tried and never answered.
"""

from __future__ import annotations

import functools
import json
import re
import string
from dataclasses import dataclass
from typing import Any

from rlmbench.lm.adapter_text import TOOL_ERROR
from rlmbench.tasks.task import RISK_FIELD, TaskSchema, ToolSpec, check_key
from rlmbench.tasks.tools import describe_finding

RETRY_LIMIT = 3
"""Calls the oracle makes of one check before it gives up on it, in every role: a transient failure fails the first
call only, and a check the tool rejects every time (the user's server refusing an argument) is given up, named in
the answer as not made, never guessed."""


NOT_MADE = "Checks not made (every try failed): "
"""How the oracle's answer names the checks it gave up on, in every role."""


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
def answer_patterns(schema: TaskSchema) -> dict[str, dict[str, re.Pattern]]:
    """tool -> {"found", "clear", "value"} compiled patterns."""
    out = {}
    for tool in schema.tools:
        if tool.user_code:  # its answers are the user's: read by its matcher (call_answers), not by templates
            continue
        entry = {"clear": re.compile(template_pattern(tool.clear, tool, schema.severities))}
        if tool.has_findings:
            entry["found"] = re.compile(template_pattern(tool.found, tool, schema.severities))
        if tool.kind == "attribute":
            entry["value"] = re.compile(template_pattern(tool.value, tool, schema.severities))
        if tool.follow_up is not None:
            entry["value"] = re.compile(value_pattern(tool.value))
        out[tool.name] = entry
    return out


def value_pattern(template: str) -> str:
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


def statements(schema: TaskSchema, text: str, calls: list[CallAnswer] | None = None) -> list[Statement]:
    """Every tool answer in the text, in the order they appear: sentences matched by each text tool's templates,
    and the JSON answers of json tools; the user's tools' answers read beside the `calls` that asked for them (by
    default, the DSPy trajectories in the text)."""
    found: list[tuple[int, Statement]] = []
    for tool in schema.tools:
        if tool.returns != "text" or tool.user_code:
            continue
        for kind, pattern in answer_patterns(schema)[tool.name].items():
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
        found += _matched_statements(schema, call_answers(text) if calls is None else calls)
    return [statement for _, statement in sorted(found, key=lambda pair: pair[0])]


_REACT_CALL = re.compile(r"\[\[ ## tool_name_(\d+) ## \]\]\s*(\w+)\s*\[\[ ## tool_args_\1 ## \]\]\s*(.*?)\s*"
                         r"\[\[ ## observation_\1 ## \]\]\s*(.*?)(?=\s*\[\[ ## |\Z)", re.DOTALL)


_V2_BLOCK = re.compile(r'\{"tool_call(s|_results)":')


CallAnswer = tuple[int, str, dict, Any, bool]
"""(position, tool name, args, answer, failed): one tool call a conversation shows, with what it got back."""


def call_answers(text: str) -> list[CallAnswer]:
    return list(_dspy_call_answers(text))


def _dspy_call_answers(text: str):
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


def _matched_statements(schema: TaskSchema, calls: list[CallAnswer]) -> list[tuple[int, Statement]]:
    """The answers of the tools backed by the user's code, read by each tool's matcher (tasks.matcher): their
    answers need not name their check, so each is read beside the call that asked for it."""
    out = []
    for at, name, args, answer, failed in calls:
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


def answer_in(schema: TaskSchema, text: str, said: list[Statement] | None = None,
              tries: dict[tuple[str, tuple], list[bool]] | None = None) -> dict[str, Any]:
    """The typed answer the tool results in `text` support, and the report that goes with them (`said`, `tries`:
    the text's statements and calls, when the caller has read them already)."""
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
    tries = call_tries(schema, call_answers(text)) if tries is None else tries
    not_made = [f"{name}({', '.join(key)})" for (name, key), failed in tries.items() if all(failed)]
    answer[schema.narrative_field] = "\n".join(
        [f"Assessment from the checks made: overall risk {answer[RISK_FIELD]}."]
        + [f"- {line}" for line in lines]
        + ["No other findings in the checks above."] + ([NOT_MADE + ", ".join(not_made) + "."] if not_made else []))
    return answer


def call_tries(schema: TaskSchema, calls: list[CallAnswer]) -> dict[tuple[str, tuple], list[bool]]:
    """(tool, key) -> whether each call of that check failed, in order: how many times a check was tried, and
    whether it ever answered (ReAct's trajectory, ReActV2's turns and native tool calls alike)."""
    tries: dict[tuple[str, tuple], list[bool]] = {}
    for _, name, args, _, failed in calls:
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
