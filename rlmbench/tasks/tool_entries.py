"""One `[[tools]]` entry of a task file read into a ToolSpec, refused in one line where it is wrong: its kind, lists
and arguments, its answer templates, how it behaves (latency, failures, JSON), the user's code behind it, a
follow-up's rule and answers, and the findings and values it declares. tasks.task_file reads the rest of the file.
"""

from __future__ import annotations

import string
from typing import Callable

from rlmbench.tasks.behaviour import Latency
from rlmbench.tasks.matcher import FindingMatcher, matcher_problem
from rlmbench.tasks.task import (
    TOOL_KINDS,
    TOOL_RETURNS,
    Entry,
    FollowUp,
    ToolSpec,
    check_key,
    key_of,
    match_index,
    resolve_item,
)
from rlmbench.tasks.task_doc import AnswerDoc, BehaviourDoc, FindingDoc, MatcherDoc, ToolDoc
from rlmbench.words import counted

FOLLOW_UP = "follow_up"
FILE_KINDS = (*TOOL_KINDS, FOLLOW_UP)
"""The kinds a file may give: the key shapes, and follow_up (a key shape taken from its after tool)."""
ARG_COUNT = {"pair": 2, "cross": 2, "attribute": 1}
LIST_COUNT = {"pair": 1, "cross": 2, "attribute": 1}
_VERBS = frozenset({"get", "check", "verify", "test", "run", "lookup", "find", "query"})
"""A default label drops a tool name's leading verb: get_drug_class -> 'drug class'."""

Fail = Callable[[str, str], Exception]
"""fail(where, problem): the error naming the file, the field and the problem."""


def unique(fail: Fail, where: str, names: list[str], what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise fail(where, f"duplicate {what} {name!r}")
        seen.add(name)


def template(fail: Fail, where: str, text: str | None, default: str, allowed: set[str], must: set[str]) -> str:
    text = text or default
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise fail(where, f"not a valid template: {exc}") from None
    unknown = sorted(used - allowed)
    if unknown:
        raise fail(where, f"unknown placeholder {{{unknown[0]}}}; allowed: " + ", ".join(f"{{{a}}}" for a in sorted(allowed)))
    missing = sorted(must - used)
    if missing:
        raise fail(where, f"must contain {{{missing[0]}}}, so an answer says which check it is")
    return text



def _latency(tool: ToolDoc, defaults: BehaviourDoc, at: str, fail: Fail) -> Latency:
    """The tool's own latency, else [behaviour]'s; a jitter larger than the mean would draw negative waits."""
    mean = tool.latency_ms if tool.latency_ms is not None else defaults.latency_ms or 0.0
    jitter = tool.latency_jitter_ms if tool.latency_jitter_ms is not None else defaults.latency_jitter_ms or 0.0
    if jitter > mean:
        field = f"{at}.latency_jitter_ms" if tool.latency_jitter_ms is not None else "behaviour.latency_jitter_ms"
        raise fail(field, f"{jitter:g} is more than the latency ({mean:g} ms): a call cannot take less than 0 ms")
    return Latency(mean, jitter)


def _behaviour(tool: ToolDoc, at: str, defaults: BehaviourDoc, fail: Fail) -> dict:
    """The ToolSpec fields of how the tool behaves beyond its answers, its own else [behaviour]'s."""
    if tool.returns is not None and tool.returns not in TOOL_RETURNS:
        raise fail(f"{at}.returns", f"{tool.returns!r} is not an answer form; one of {', '.join(TOOL_RETURNS)}")
    rate = tool.transient_failure_rate
    if tool.answer_tokens and (tool.function or tool.mcp):
        raise fail(f"{at}.answer_tokens", "pads the task's own answers; your function's or server's answers are "
                                          "your own, at the size they are")
    own_code = tool.function or tool.mcp
    tokens = tool.answer_tokens if tool.answer_tokens is not None else (defaults.answer_tokens or 0)
    return {"latency": _latency(tool, defaults, at, fail), "returns": tool.returns or "text",
            "transient_failure_rate": rate if rate is not None else defaults.transient_failure_rate or 0.0,
            "answer_tokens": 0 if own_code else tokens}


def _default_label(name: str) -> str:
    words = name.split("_")
    return " ".join(words[1:] if len(words) > 1 and words[0] in _VERBS else words)


def follow_up_spec(tool: ToolDoc, at: str, earlier: dict[str, ToolSpec], severities: tuple[str, ...],
                    defaults: BehaviourDoc, fail: Fail) -> ToolSpec:
    """A follow-up: required once for each finding of its `after` tool whose severity is in `when`, same key."""
    for name in ("function", "mcp", "finding"):
        if getattr(tool, name) is not None:
            raise fail(f"{at}.{name}", "a follow-up is answered from its `answers`; only pair, cross and attribute "
                                       "tools can be the user's code")
    if tool.args is None or tool.doc is None:
        raise fail(f"{at}.{'args' if tool.args is None else 'doc'}", "missing")
    if tool.after is None:
        raise fail(f"{at}.after", "missing: the tool whose findings this follow-up follows")
    after = earlier.get(tool.after)
    if after is None or not after.has_findings:
        known = ", ".join(n for n, t in earlier.items() if t.has_findings) or "none"
        raise fail(f"{at}.after", f"{tool.after!r} is not a tool with findings declared before this one; "
                                  f"such tools: {known}")
    if not tool.when:
        raise fail(f"{at}.when", "missing: the severities of the findings that require this follow-up")
    for severity in tool.when:
        if severity not in severities:
            raise fail(f"{at}.when", f"severity {severity!r} is not in the scale {', '.join(severities)}")
    if tool.lists is not None and tuple(tool.lists) != after.lists:
        raise fail(f"{at}.lists", f"a follow-up takes its after tool's lists ({', '.join(after.lists)})")
    if len(tool.args) != len(after.args):
        raise fail(f"{at}.args", f"a follow-up of {after.name} takes {counted(len(after.args), 'argument')}, "
                                 f"got {len(tool.args)}")
    for name in ("findings", "values", "severity", "clear_field", "required"):
        if getattr(tool, name) is not None:
            raise fail(f"{at}.{name}", "a follow-up tool has no such field; its answers are `answers`")
    args, label = tuple(tool.args), tool.label or _default_label(tool.name)
    subject = " and ".join(f"{{{a}}}" for a in args)
    value = template(fail, f"{at}.value", tool.value, f"{label.capitalize()} for {subject}: {{value}}",
                      {*args, "value"}, {*args, "value"})
    return ToolSpec(
        name=tool.name, kind=after.kind, lists=after.lists, args=args, doc=tool.doc, required=False, label=label,
        answer_field=tool.answer_field or f"{tool.name}_values", clear_field=None, fixed_severity=None, found=value,
        clear=template(fail, f"{at}.clear", tool.clear, f"No {label} recorded for {subject}.", set(args), set(args)),
        value=value, finding_rate=None,
        answer_description=tool.answer_description or (
            f"for each {' or '.join(tool.when)} {after.label}, the {label} that {tool.name} gave, its value exactly "
            f"as given"),
        follow_up=FollowUp(after.name, tuple(tool.when)), **_behaviour(tool, at, defaults, fail))


def follow_up_answers(spec: ToolSpec, answers: list[AnswerDoc] | None, at: str, lists: dict[str, tuple[str, ...]],
                       aliases: dict[str, str], triggers: dict, fail: Fail) -> dict:
    """key -> value for every finding that requires the follow-up, and for nothing else."""
    out: dict = {}
    for j, answer in enumerate(answers or []):
        where = f"{at}.answers[{j}]"
        if len(answer.items) != len(spec.args):
            raise fail(f"{where}.items", f"names {counted(len(spec.args), 'item')}, got {len(answer.items)}")
        values = [item_named(fail, f"{where}.items[{k}]", part, spec.lists[0] if len(spec.lists) == 1 else spec.lists[k],
                        lists, aliases) for k, part in enumerate(answer.items)]
        key = check_key(spec, dict(zip(spec.args, values)))
        if key not in triggers:
            raise fail(f"{where}.items", f"{', '.join(key)} is not a {' or '.join(spec.follow_up.when)} finding of "
                                         f"{spec.follow_up.after}, so no follow-up is required for it")
        if any(c in answer.value for c in '\n"\\'):
            raise fail(f"{where}.value", "must be one line without quotes or backslashes (a short code or a number)")
        out[key] = answer.value
    missing = [k for k in triggers if k not in out]
    if missing:
        raise fail(f"{at}.answers", f"no answer for the required follow-up of {', '.join(missing[0])}")
    return out


def tool_spec(tool: ToolDoc, at: str, lists: dict[str, tuple[str, ...]], severities: tuple[str, ...],
               defaults: BehaviourDoc, fail: Fail) -> ToolSpec:
    """The tool's spec: its kind, lists and arguments checked, its defaults filled in."""
    kind, name = tool.kind, tool.name
    if kind not in TOOL_KINDS:
        raise fail(f"{at}.kind", f"unknown tool kind {kind!r}; one of {', '.join(FILE_KINDS)}")
    for field in ("after", "when", "answers"):
        if getattr(tool, field) is not None:
            raise fail(f"{at}.{field}", "only a follow_up tool has this field")
    if tool.lists is None:
        raise fail(f"{at}.lists", "missing")
    if tool.returns is not None and tool.returns not in TOOL_RETURNS:
        raise fail(f"{at}.returns", f"{tool.returns!r} is not an answer form; one of {', '.join(TOOL_RETURNS)}")
    if len(tool.lists) != LIST_COUNT[kind]:
        raise fail(f"{at}.lists", f"a {kind} tool takes {counted(LIST_COUNT[kind], 'list')}, got {len(tool.lists)}")
    for list_name in tool.lists:
        if list_name not in lists:
            raise fail(f"{at}.lists", f"no list named {list_name!r}; lists: {', '.join(lists)}")
    if kind == "cross" and tool.lists[0] == tool.lists[1]:
        raise fail(f"{at}.lists", "a cross tool needs two different lists (use kind = \"pair\" for one)")
    user = _user_code(tool, at, fail)
    given_args = tool.args if tool.args is not None else []  # a user's tool may take its own (tasks.backends)
    if tool.args is None and not user["function"] and not user["mcp"]:
        raise fail(f"{at}.args", "missing")
    if tool.doc is None and not user["function"] and not user["mcp"]:
        raise fail(f"{at}.doc", "missing")
    if tool.args is not None:
        check_arg_count(kind, tool.args, f"{at}.args", fail)
    has_findings = kind != "attribute" or tool.findings is not None or bool(tool.answer_field)
    required = kind != "attribute" or bool(tool.required)
    if kind != "attribute" and tool.required is False:
        raise fail(f"{at}.required", f"a {kind} tool's checks are always required")
    if kind == "attribute" and has_findings and not required:
        raise fail(f"{at}.required", "an attribute tool with findings must set required = true")
    label = tool.label or _default_label(name)
    if user["finding"] is not None and not has_findings:
        raise fail(f"{at}.finding", "only a tool with findings reads them from its answers")
    if user["finding"] is not None and tool.severity is None and user["finding"].severity_group is None \
            and user["finding"].severity_field is None:
        raise fail(f"{at}.finding", "says no severity: give severity_group (text) or severity_field (dict), or set "
                                    "the tool's `severity` for all its findings")
    if tool.severity is not None and tool.severity not in severities:
        raise fail(f"{at}.severity", f"severity {tool.severity!r} is not in the scale {', '.join(severities)}")
    if tool.clear_field and not has_findings:
        raise fail(f"{at}.clear_field", "only a tool with findings can have a clear_field")
    args = given_args
    if user["function"] or user["mcp"]:
        return _user_tool_spec(tool, at, kind, label, has_findings, required, defaults, user, fail)
    subject = " and ".join(f"{{{a}}}" for a in args)
    found = template(fail, f"{at}.found", tool.found, f"FOUND ({{severity}}) {label} for {subject}: {{details}}",
                      {*args, "severity", "SEVERITY", "details"}, set(args) | ({"details"} if has_findings else set()))
    if has_findings and tool.severity is None and not user["function"] and not user["mcp"] and not {
            "severity", "SEVERITY"} & {n for _, n, _, _ in string.Formatter().parse(found) if n}:
        raise fail(f"{at}.found", "must contain {severity} or {SEVERITY}: this tool's findings differ in severity "
                                  "(or set `severity` for all of them)")
    return ToolSpec(
        name=name, kind=kind, lists=tuple(tool.lists), args=tuple(args), doc=tool.doc or "", required=required,
        label=label, answer_field=(tool.answer_field or f"{name}_findings") if has_findings else None,
        clear_field=tool.clear_field, fixed_severity=tool.severity, found=found,
        clear=template(fail, f"{at}.clear", tool.clear, f"No {label} recorded for {subject}.", set(args), set(args)),
        value=template(fail, f"{at}.value", tool.value, f"{{{args[0]}}}: {{value}}", {args[0], "value"}, {args[0]}),
        finding_rate=tool.finding_rate,
        answer_description=tool.answer_description or (
            f"the {label} findings of {name}" + ("" if tool.severity else ", each with its severity")),
        clear_description=tool.clear_description or f"the checks of {name} you found to have no {label}",
        **_behaviour(tool, at, defaults, fail), **user,
    )


def _user_tool_spec(tool: ToolDoc, at: str, kind: str, label: str, has_findings: bool, required: bool,
                    defaults: BehaviourDoc, user: dict, fail: Fail) -> ToolSpec:
    """A tool of the user's code: no answer templates (its answers are its own; its `finding` reads them), and its
    arguments and doc may come from the code when the tasks.backends open it."""
    for name in ("found", "clear", "value", "values"):
        if getattr(tool, name) is not None:
            raise fail(f"{at}.{name}", "a `function` or `mcp` tool answers in its own words; `finding` reads them")
    return ToolSpec(
        name=tool.name, kind=kind, lists=tuple(tool.lists), args=tuple(tool.args or ()), doc=tool.doc or "",
        required=required, label=label, answer_field=(tool.answer_field or f"{tool.name}_findings") if has_findings
        else None, clear_field=tool.clear_field, fixed_severity=tool.severity, found="", clear="", value="",
        finding_rate=tool.finding_rate,
        answer_description=tool.answer_description or (
            f"the {label} findings of {tool.name}" + ("" if tool.severity else ", each with its severity")),
        clear_description=tool.clear_description or f"the checks of {tool.name} you found to have no {label}",
        **_behaviour(tool, at, defaults, fail), **user)


def check_arg_count(kind: str, args: list[str] | tuple[str, ...], where: str, fail: Fail) -> None:
    """A tool's arguments fit its kind: two for a pair or cross tool, one for an attribute tool, no name twice."""
    if len(args) != ARG_COUNT[kind]:
        raise fail(where, f"a {kind} tool takes {counted(ARG_COUNT[kind], 'argument')}, got {len(args)}")
    unique(fail, where, list(args), "argument")


def _matcher(doc: MatcherDoc, at: str, fail: Fail) -> FindingMatcher:
    matcher = FindingMatcher(pattern=doc.pattern, severity_group=doc.severity_group, field=doc.field,
                             clear=tuple(doc.clear or ()), severity_field=doc.severity_field)
    problem = matcher_problem(matcher)
    if problem is not None:
        field, text = problem
        raise fail(f"{at}.finding" + (f".{field}" if field else ""), text)
    return matcher


def _user_code(tool: ToolDoc, at: str, fail: Fail) -> dict:
    """The ToolSpec fields of a tool answered by the user's code: `function`, `mcp` and `finding`, checked."""
    if tool.function is not None and tool.mcp not in (None, False):
        raise fail(f"{at}.mcp", "a tool is either the user's `function` or the server's (`mcp`), not both")
    if tool.function is not None:
        module, _, attr = tool.function.partition(":")
        if not module or not attr or not all(part.isidentifier() for part in [*module.split("."), *attr.split(".")]):
            raise fail(f"{at}.function", f"{tool.function!r} is not `module:attr` (as `drug_tools:check_interaction`)")
    mcp = None if tool.mcp in (None, False) else (tool.name if tool.mcp is True else tool.mcp)
    finding = None if tool.finding is None else _matcher(tool.finding, at, fail)
    if finding is not None and tool.function is None and mcp is None:
        raise fail(f"{at}.finding", "only a `function` or `mcp` tool reads its findings from its answers; this "
                                    "tool's answers are its `findings`")
    if finding is not None and tool.findings is not None:
        raise fail(f"{at}.finding", "give `findings` (declared) or `finding` (read from the answers), not both")
    return {"function": tool.function, "mcp": mcp, "finding": finding}



def item_named(fail: Fail, where: str, given: str, list_name: str, lists: dict[str, tuple[str, ...]],
          aliases: dict[str, str]) -> str:
    names = lists[list_name]
    item = resolve_item(given, frozenset(names), match_index(names), aliases)
    if item not in names:
        raise fail(where, f"{given!r} is not in list {list_name}")
    return item


def findings_of(spec: ToolSpec, found: list[FindingDoc], at: str, lists: dict[str, tuple[str, ...]],
              severities: tuple[str, ...], aliases: dict[str, str], fail: Fail) -> dict:
    if not spec.has_findings:
        raise fail(f"{at}.findings", "only a tool with an answer_field can have findings")
    findings: dict = {}
    for j, finding in enumerate(found):
        where = f"{at}.findings[{j}]"
        if len(finding.items) != ARG_COUNT[spec.kind]:
            raise fail(f"{where}.items", f"a {spec.kind} finding names {counted(ARG_COUNT[spec.kind], 'item')}, "
                                         f"got {len(finding.items)}")
        values = [item_named(fail, f"{where}.items[{k}]", part, spec.lists[0] if spec.kind == "pair" else spec.lists[k],
                        lists, aliases) for k, part in enumerate(finding.items)]
        if spec.kind == "pair" and values[0] == values[1]:
            raise fail(f"{where}.items", "a pair finding needs two different items")
        key = key_of(spec.kind, values)
        if key in findings:
            raise fail(f"{where}.items", f"duplicate finding for {', '.join(key)}")
        severity = finding.severity or spec.fixed_severity
        if severity is None:
            raise fail(f"{where}.severity", "missing")
        if severity not in severities:
            raise fail(f"{where}.severity", f"severity {severity!r} is not in the scale {', '.join(severities)}")
        if spec.fixed_severity is not None and severity != spec.fixed_severity:
            raise fail(f"{where}.severity", f"this tool's findings are all {spec.fixed_severity}")
        findings[key] = Entry(severity, finding.details)
    return findings


def values_of(spec: ToolSpec, given: dict[str, str], at: str, lists: dict[str, tuple[str, ...]],
            aliases: dict[str, str], fail: Fail) -> dict[str, str]:
    if spec.kind != "attribute":
        raise fail(f"{at}.values", "only an attribute tool has values")
    return {item_named(fail, f"{at}.values.{name}", name, spec.lists[0], lists, aliases): value
            for name, value in given.items()}
