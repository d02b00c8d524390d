"""Reading a task file (TOML) into a `Task`, and refusing a bad one in one line.

The README's "Task files" section documents the schema this module enforces. Every problem
is reported as `TaskFileError(file, field, problem)`, whose text is the one line the user sees:
`tasks/mine.toml: tools[1].findings[3].items: 'warfrin' is not in list medications`.
Unknown keys are refused too, so a misspelt field never silently falls back to a default.
"""

from __future__ import annotations

import keyword
import string
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rlmbench.task import (
    TOOL_KINDS,
    Entry,
    ListSpec,
    RiskRule,
    Task,
    TaskData,
    TaskSchema,
    ToolSpec,
    check_key,
    normalise_name,
)
from rlmbench.sizes import parse_sizes

TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"
DEFAULT_TASK = "drugs"
DEFAULT_NOTICE = "SIMULATED DATA - invented for a software benchmark; do not use it for real decisions."
ARG_COUNT = {"pair": 2, "cross": 2, "attribute": 1}
LIST_COUNT = {"pair": 1, "cross": 2, "attribute": 1}
_VERBS = frozenset({"get", "check", "verify", "test", "run", "lookup", "find", "query"})
"""A default label drops a tool name's leading verb: get_drug_class -> 'drug class'."""
RESERVED_NAMES = frozenset({"overall_risk", "plan", "reasoning", "code", "submit", "finish", "llm_query",
                            "llm_query_batched", "print", "SUBMIT"})


class TaskFileError(Exception):
    """A task file that cannot be used; str() is the one line to show."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def builtin_names() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.toml"))


def resolve_task_path(name_or_path: str) -> Path:
    """A built-in task's name, or the path of a user's file; TaskFileError for an unknown name."""
    if name_or_path in builtin_names():
        return TASKS_DIR / f"{name_or_path}.toml"
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists() or "/" in name_or_path:
        return path
    raise TaskFileError(name_or_path, "", f"no such task; built-in tasks: {', '.join(builtin_names())}, "
                                          f"or give the path of a .toml task file")


def load_task(name_or_path: str = DEFAULT_TASK) -> Task:
    path = resolve_task_path(name_or_path)
    builtin = path.resolve().parent == TASKS_DIR
    shown = f"tasks/{path.name}" if builtin else str(path)  # as the user named it, for error messages
    try:
        text = path.read_text()
    except OSError as exc:
        raise TaskFileError(shown, "", f"cannot read it: {exc.strerror or exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TaskFileError(shown, "", f"not valid TOML: {exc}") from None
    task = parse_task(raw, shown)
    # The results file records a user's file by its full path, so a resumed invocation finds it anywhere.
    return task if builtin else replace(task, source=str(path.resolve()))


@dataclass
class _Field:
    """A value in the file and where it is, so every problem names its field."""

    source: str
    where: str
    value: Any

    def fail(self, problem: str) -> TaskFileError:
        return TaskFileError(self.source, self.where, problem)

    def child(self, key: str | int) -> "_Field":
        where = f"{self.where}[{key}]" if isinstance(key, int) else (f"{self.where}.{key}" if self.where else key)
        value = self.value[key] if isinstance(key, int) else self.value.get(key)
        return _Field(self.source, where, value)

    def table(self, allowed: set[str], required: set[str]) -> "_Field":
        if not isinstance(self.value, dict):
            raise self.fail("must be a table")
        unknown = sorted(set(self.value) - allowed)
        if unknown:
            raise self.child(unknown[0]).fail(f"unknown field; allowed here: {', '.join(sorted(allowed))}")
        for key in sorted(required):
            if key not in self.value:
                raise self.child(key).fail("missing")
        return self

    def text(self, default: str | None = None) -> str:
        if self.value is None and default is not None:
            return default
        if not isinstance(self.value, str) or not self.value.strip():
            raise self.fail("missing" if self.value is None else "must be a non-empty string")
        return self.value.strip()

    def identifier(self, default: str | None = None) -> str:
        name = self.text(default)
        if not name.isidentifier() or keyword.iskeyword(name):
            raise self.fail(f"{name!r} is not a Python identifier (letters, digits, underscores)")
        return name

    def items(self, minimum: int = 1) -> list["_Field"]:
        if not isinstance(self.value, list):
            raise self.fail("missing" if self.value is None else "must be an array")
        if len(self.value) < minimum:
            raise self.fail(f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}")
        return [self.child(i) for i in range(len(self.value))]

    def strings(self, minimum: int = 1) -> list[str]:
        return [f.text() for f in self.items(minimum)]


def _unique(field: _Field, names: list[str], what: str) -> None:
    seen = set()
    for name in names:
        if name in seen:
            raise field.fail(f"duplicate {what} {name!r}")
        seen.add(name)


def _template(field: _Field, default: str, allowed: set[str], must: set[str]) -> str:
    text = field.text(default)
    try:
        used = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:
        raise field.fail(f"not a valid template: {exc}") from None
    unknown = sorted(used - allowed)
    if unknown:
        raise field.fail(f"unknown placeholder {{{unknown[0]}}}; allowed: "
                         + ", ".join(f"{{{a}}}" for a in sorted(allowed)))
    missing = sorted(must - used)
    if missing:
        raise field.fail(f"must contain {{{missing[0]}}}, so an answer says which check it is")
    return text


def _parse_lists(root: _Field) -> tuple[tuple[ListSpec, ...], dict[str, tuple[str, ...]]]:
    specs, items = [], {}
    for entry in root.child("lists").items():
        entry.table({"name", "description", "entity", "items"}, {"name", "description", "items"})
        name = entry.child("name").identifier()
        if name in items:
            raise entry.child("name").fail(f"duplicate list name {name!r}")
        names = [normalise_name(s) for s in entry.child("items").strings()]
        if any(not n for n in names):
            raise entry.child("items").fail("an item has no name")
        _unique(entry.child("items"), names, "name")
        specs.append(ListSpec(name, entry.child("description").text(), entry.child("entity").text(name)))
        items[name] = tuple(names)
    return tuple(specs), items


def _parse_tool(entry: _Field, lists: dict[str, tuple[str, ...]], severities: tuple[str, ...],
                aliases: dict[str, str]) -> tuple[ToolSpec, dict, dict[str, str]]:
    entry.table({"name", "kind", "lists", "args", "doc", "required", "label", "answer_field", "answer_description",
                 "clear_field", "clear_description", "severity", "found", "clear", "value", "finding_rate",
                 "findings", "values"}, {"name", "kind", "lists", "args", "doc"})
    name = entry.child("name").identifier()
    kind = entry.child("kind").text()
    if kind not in TOOL_KINDS:
        raise entry.child("kind").fail(f"unknown tool kind {kind!r}; one of {', '.join(TOOL_KINDS)}")
    tool_lists = entry.child("lists").strings()
    if len(tool_lists) != LIST_COUNT[kind]:
        raise entry.child("lists").fail(f"a {kind} tool takes {LIST_COUNT[kind]} list(s), got {len(tool_lists)}")
    for list_name in tool_lists:
        if list_name not in lists:
            raise entry.child("lists").fail(f"no list named {list_name!r}; lists: {', '.join(lists)}")
    if kind == "cross" and tool_lists[0] == tool_lists[1]:
        raise entry.child("lists").fail("a cross tool needs two different lists (use kind = \"pair\" for one)")
    args = [entry.child("args").child(i).identifier() for i in range(len(entry.child("args").items()))]
    if len(args) != ARG_COUNT[kind]:
        raise entry.child("args").fail(f"a {kind} tool takes {ARG_COUNT[kind]} argument(s), got {len(args)}")
    _unique(entry.child("args"), args, "argument")

    raw_findings = entry.child("findings")
    has_findings = kind != "attribute" or raw_findings.value is not None or entry.value.get("answer_field")
    required_field = entry.child("required")
    if required_field.value is not None and not isinstance(required_field.value, bool):
        raise required_field.fail("must be true or false")
    required = kind != "attribute" or bool(required_field.value)
    if kind != "attribute" and required_field.value is False:
        raise required_field.fail(f"a {kind} tool's checks are always required")
    if kind == "attribute" and has_findings and not required:
        raise required_field.fail("an attribute tool with findings must set required = true")
    words = name.split("_")
    label = entry.child("label").text(" ".join(words[1:] if len(words) > 1 and words[0] in _VERBS else words))
    fixed = entry.child("severity")
    fixed_severity = fixed.text() if fixed.value is not None else None
    if fixed_severity is not None and fixed_severity not in severities:
        raise fixed.fail(f"severity {fixed_severity!r} is not in the scale {', '.join(severities)}")
    answer_field = entry.child("answer_field").identifier(f"{name}_findings") if has_findings else None
    clear_field = entry.child("clear_field").identifier() if entry.value.get("clear_field") is not None else None
    if clear_field and not has_findings:
        raise entry.child("clear_field").fail("only a tool with findings can have a clear_field")

    placeholders = {*args, "severity", "SEVERITY", "details"}
    subject = " and ".join(f"{{{a}}}" for a in args)
    found = _template(entry.child("found"), f"FOUND ({{severity}}) {label} for {subject}: {{details}}",
                      placeholders, set(args) | ({"details"} if has_findings else set()))
    if has_findings and fixed_severity is None and not {"severity", "SEVERITY"} & {
            n for _, n, _, _ in string.Formatter().parse(found) if n}:
        raise entry.child("found").fail("must contain {severity} or {SEVERITY}: this tool's findings differ in "
                                        "severity (or set `severity` for all of them)")
    clear = _template(entry.child("clear"), f"No {label} recorded for {subject}.", set(args), set(args))
    value = _template(entry.child("value"), f"{{{args[0]}}}: {{value}}", {args[0], "value"}, {args[0]})
    rate = entry.child("finding_rate")
    if rate.value is not None and (not isinstance(rate.value, (int, float)) or not 0 <= rate.value <= 1):
        raise rate.fail("must be a number from 0 to 1")

    spec = ToolSpec(
        name=name, kind=kind, lists=tuple(tool_lists), args=tuple(args),
        doc=entry.child("doc").text(), required=required, label=label,
        answer_field=answer_field, clear_field=clear_field, fixed_severity=fixed_severity,
        found=found, clear=clear, value=value, finding_rate=None if rate.value is None else float(rate.value),
        answer_description=entry.child("answer_description").text(
            f"the {label} findings of {name}" + ("" if fixed_severity else ", each with its severity")),
        clear_description=entry.child("clear_description").text(f"the checks of {name} you found to have no {label}"),
    )

    def resolve(item_field: _Field, list_name: str) -> str:
        item = normalise_name(item_field.text())
        item = aliases.get(item, item)
        if item not in lists[list_name]:
            raise item_field.fail(f"{item_field.value!r} is not in list {list_name}")
        return item

    findings: dict = {}
    if raw_findings.value is not None:
        if not has_findings:
            raise raw_findings.fail("only a tool with an answer_field can have findings")
        for finding in raw_findings.items(minimum=0):
            finding.table({"items", "severity", "details"}, {"items", "details"} | (set() if fixed_severity
                                                                                  else {"severity"}))
            parts = finding.child("items").items()
            if len(parts) != len(args):
                raise finding.child("items").fail(f"a {kind} finding names {len(args)} item(s), got {len(parts)}")
            values = [resolve(part, tool_lists[0] if kind == "pair" else tool_lists[i])
                      for i, part in enumerate(parts)]
            if kind == "pair" and values[0] == values[1]:
                raise finding.child("items").fail("a pair finding needs two different items")
            key = check_key(spec, dict(zip(args, values)))
            if key in findings:
                raise finding.child("items").fail(f"duplicate finding for {', '.join(key)}")
            severity = finding.child("severity").text(fixed_severity or "")
            if severity not in severities:
                raise finding.child("severity").fail(f"severity {severity!r} is not in the scale "
                                                     f"{', '.join(severities)}")
            if fixed_severity is not None and severity != fixed_severity:
                raise finding.child("severity").fail(f"this tool's findings are all {fixed_severity}")
            findings[key] = Entry(severity, finding.child("details").text())

    values_map: dict[str, str] = {}
    raw_values = entry.child("values")
    if raw_values.value is not None:
        if kind != "attribute":
            raise raw_values.fail("only an attribute tool has values")
        if not isinstance(raw_values.value, dict):
            raise raw_values.fail("must be a table of item = value")
        for item_name in raw_values.value:
            item = resolve(_Field(source=raw_values.source, where=f"{raw_values.where}.{item_name}",
                                  value=item_name), tool_lists[0])
            values_map[item] = raw_values.child(item_name).text()
    return spec, findings, values_map


def parse_task(raw: dict, source: str) -> Task:
    """A Task from a parsed TOML document; TaskFileError naming the field for anything wrong."""
    root = _Field(source, "", raw).table(
        {"name", "description", "instructions", "notice", "report", "severities", "risk", "lists", "tools",
         "aliases", "sweep"},
        {"name", "description", "instructions", "severities", "risk", "lists", "tools"})
    severities = tuple(root.child("severities").strings())
    _unique(root.child("severities"), list(severities), "severity")
    list_specs, items = _parse_lists(root)

    aliases: dict[str, str] = {}
    raw_aliases = root.child("aliases")
    if raw_aliases.value is not None:
        if not isinstance(raw_aliases.value, dict):
            raise raw_aliases.fail("must be a table of alias = item")
        known = {item for names in items.values() for item in names}
        for alias in raw_aliases.value:
            target = normalise_name(raw_aliases.child(alias).text())
            if target not in known:
                raise raw_aliases.child(alias).fail(f"{target!r} is not an item of any list")
            aliases[normalise_name(alias)] = target

    risk_field = root.child("risk").table({"levels", "none", "by_severity", "description"},
                                          {"levels", "none", "by_severity"})
    levels = tuple(risk_field.child("levels").strings())
    _unique(risk_field.child("levels"), list(levels), "level")
    none_level = risk_field.child("none").text()
    if none_level not in levels:
        raise risk_field.child("none").fail(f"{none_level!r} is not one of the levels {', '.join(levels)}")
    by = risk_field.child("by_severity").table(set(severities), set(severities))
    mapping = []
    for severity in severities:
        level = by.child(severity).text()
        if level not in levels:
            raise by.child(severity).fail(f"{level!r} is not one of the levels {', '.join(levels)}")
        mapping.append((severity, level))
    risk = RiskRule(levels, tuple(mapping), none_level, risk_field.child("description").text("the overall risk"))

    tools, findings, values = [], {}, {}
    for entry in root.child("tools").items():
        spec, tool_findings, tool_values = _parse_tool(entry, items, severities, aliases)
        if spec.name in findings:
            raise entry.child("name").fail(f"duplicate tool name {spec.name!r}")
        tools.append(spec)
        findings[spec.name] = tool_findings
        if tool_values:
            values[spec.name] = tool_values
    # Each answer a tool can give must be told apart from every other tool's, or nobody (model or
    # oracle) can say which check a result belongs to.
    statements: dict[str, str] = {}
    for i, tool in enumerate(tools):
        for kind in ("found", "clear") + (("value",) if values.get(tool.name) else ()):
            text = getattr(tool, kind)
            if kind == "found" and not tool.has_findings:
                continue
            if text in statements:
                raise TaskFileError(source, f"tools[{i}].{kind}",
                                    f"the same text as {statements[text]}; each answer must say which tool gave it")
            statements[text] = f"tools[{i}].{kind}"
    if not any(t.has_findings for t in tools):
        raise root.child("tools").fail("no tool has findings: a task needs at least one pair or cross tool, "
                                       "or an attribute tool with findings")

    report = root.child("report")
    if report.value is not None:
        report.table({"field", "description"}, set())
    report_field = report.child("field").identifier("report") if report.value else "report"
    report_description = (report.child("description").text("the answer: each problem found, with its severity")
                          if report.value else "the answer: each problem found, with its severity")

    # One namespace: the agent's inputs, its outputs and its tools must not shadow each other.
    names: dict[str, str] = {}
    entries = [(spec.name, f"lists.{spec.name}") for spec in list_specs]
    entries += [(t.name, f"tools.{t.name}") for t in tools]
    entries += [(report_field, "report.field")]
    entries += [(t.answer_field, f"tools.{t.name}.answer_field") for t in tools if t.answer_field]
    entries += [(t.clear_field, f"tools.{t.name}.clear_field") for t in tools if t.clear_field]
    for name, where in entries:
        if name in RESERVED_NAMES:
            raise TaskFileError(source, where, f"{name!r} is a name DSPy or the benchmark uses itself")
        if name in names:
            raise TaskFileError(source, where, f"{name!r} is already used by {names[name]}")
        names[name] = where

    sweep = root.child("sweep")
    sweep_sizes = None
    if sweep.value is not None:
        sweep.table({"sizes"}, {"sizes"})
        sweep_sizes = tuple(sweep.child("sizes").strings())
        try:
            parse_sizes(",".join(sweep_sizes), [spec.name for spec in list_specs])
        except ValueError as exc:
            raise sweep.child("sizes").fail(str(exc)) from None

    schema = TaskSchema(
        name=root.child("name").identifier(),
        description=root.child("description").text(),
        instructions=root.child("instructions").text(),
        report_field=report_field,
        report_description=report_description,
        notice=root.child("notice").text(DEFAULT_NOTICE),
        lists=list_specs,
        tools=tuple(tools),
        severities=severities,
        risk=risk,
        sweep=sweep_sizes,
    )
    return Task(schema, TaskData(items, findings, values, aliases), source)
