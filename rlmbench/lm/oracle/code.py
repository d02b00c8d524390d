"""The Python the oracle writes when a role asks for code (DSPy's RLM, the hybrid's planner): loops over every
required check that build the typed answer in variables, retrying a call that fails where a tool can fail, branching
on a finding's severity into its follow-ups, and naming the checks it gave up on. With a batch primitive in the
prompt, one batch per tool instead of the loops.
"""

from __future__ import annotations

import re

from rlmbench.lm.oracle.answers import NOT_MADE, RETRY_LIMIT, answer_patterns, value_pattern
from rlmbench.tasks.task import RISK_FIELD, TaskSchema, ToolSpec
from rlmbench.tasks.tools import can_fail


def key_loop(tool: ToolSpec) -> tuple[list[str], list[str]]:
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
    return [f"_v = _follow and re.match({value_pattern(follow.value)!r}, _follow)",
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
    patterns = answer_patterns(schema)
    lines = [_imports(schema), "_severities, _lines, _made = [], [], 0"]
    retries = can_fail(schema) or schema.user_code  # the user's code may raise
    if retries:  # a call that raises is retried; a check that never answers is named as not made, not guessed
        lines += ["_unmade = []",
                  "def _call(_tool, **_args):",
                  f"    for _attempt in range({RETRY_LIMIT}):",
                  "        try:",
                  "            return _tool(**_args)",
                  "        except Exception as _error:",
                  '            print(f"retrying {_tool.__name__}: {_error}")',
                  '    _unmade.append(_tool.__name__ + "(" + ", ".join(map(str, _args.values())) + ")")',
                  "    return None"]
    lines += _answer_lists(schema)
    for tool in schema.required_tools:
        header, values = key_loop(tool)
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
    """A comprehension building the keyword arguments of every key of a tool, in the loop order of key_loop."""
    header, _ = key_loop(tool)
    loops = " ".join(line.strip().rstrip(":") for line in header)
    kwargs = "dict(" + ", ".join(f"{a}={v}" for a, v in zip(tool.args, values)) + ")"
    return [f"{into} = [{kwargs} {loops}]"]


def batch_code(schema: TaskSchema, primitive: str) -> str:
    """The first cell when the prompt offers a batch `primitive` (call_many(tool_name, list_of_kwargs)): each tool's
    checks in one batch, the failed ones again in another, the follow-ups of the findings in a third; the answer built
    in variables as in check_code."""
    patterns = answer_patterns(schema)
    lines = [_imports(schema), "_severities, _lines, _made = [], [], 0", "_unmade = []",
             "def _batch(_tool, _calls):",
             f"    _results = {primitive}(_tool, _calls)",
             f"    for _attempt in range({RETRY_LIMIT - 1}):",
             '        _again = [_i for _i, _r in enumerate(_results) if isinstance(_r, dict) and set(_r) == {"error"}]',
             "        if not _again:",
             "            break",
             f"        for _i, _r in zip(_again, {primitive}(_tool, [_calls[_i] for _i in _again])):",
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
        header, values = key_loop(tool)
        args = "{" + ", ".join(f"{a!r}: {v}" for a, v in zip(tool.args, values)) + "}"
        lines += header + ["    " * len(header) + f"plan.append({{'tool': {tool.name!r}, 'args': {args}}})"]
    lines.append('print(len(plan), "checks planned; first:", plan[:2])')
    return "\n".join(lines)
