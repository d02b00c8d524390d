"""Reading a task file (TOML) into a `Task`, and refusing a bad one in one line.

docs/task-files.md documents the file. Its shape (tables, fields, types; unknown fields refused) is
`task_doc.TaskDoc`; the rules between fields are the functions below, in the order a file is read, and for
each `[[tools]]` entry, tasks.tool_entries.
Every problem is reported as `TaskFileError(file, field, problem)`, whose text is the one line the
user sees: `tasks/mine.toml: tools[1].findings[3].items: 'warfrin' is not in list medications`.
"""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path

from rlmbench.tasks.detail import RESERVED, DetailVocabulary
from rlmbench.tasks.sizes import parse_sizes
from rlmbench.tasks.task import (
    NO_RISK,
    RISK_FIELD,
    ListSpec,
    RiskRule,
    ServerSpec,
    Task,
    TaskData,
    TaskSchema,
    ToolSpec,
    match_index,
    normalise_name,
    resolve_item,
)
from rlmbench.tasks.task_doc import (
    BehaviourDoc,
    ServerDoc,
    TaskDoc,
    document_of,
)
from rlmbench.tasks.tool_entries import (
    FOLLOW_UP,
    Fail,
    findings_of,
    follow_up_answers,
    follow_up_spec,
    tool_spec,
    unique,
    values_of,
)

TASKS_DIR = Path(__file__).resolve().parent / "builtin"
DEFAULT_TASK = "drugs"
DEFAULT_NOTICE = "SIMULATED DATA - invented for a software benchmark; do not use it for real decisions."
RESERVED_NAMES = frozenset({RISK_FIELD, "plan", "reasoning", "code", "submit", "finish", "llm_query",
                            "llm_query_batched", "print", "SUBMIT"})


class TaskFileError(Exception):
    """A task file that cannot be used; str() is the one line to show."""

    def __init__(self, source: str, where: str, problem: str) -> None:
        super().__init__(f"{source}: {where}: {problem}" if where else f"{source}: {problem}")


def builtin_source(name: str) -> str:
    """How a built-in task's file is named in messages and in the results files, wherever it is installed."""
    return f"tasks/{name}.toml"


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
    shown = builtin_source(path.stem) if builtin else str(path)  # as the user named it, for error messages
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



def _lists(doc: TaskDoc, fail: Fail) -> tuple[tuple[ListSpec, ...], dict[str, tuple[str, ...]]]:
    specs, items = [], {}
    for i, entry in enumerate(doc.lists):
        if entry.name in items:
            raise fail(f"lists[{i}].name", f"duplicate list name {entry.name!r}")
        names = list(entry.items)  # as spelled: what the tools receive and the report prints
        if any(not n.strip() for n in names):
            raise fail(f"lists[{i}].items", "an item has no name")
        unique(fail, f"lists[{i}].items", names, "name")
        specs.append(ListSpec(entry.name, entry.description, entry.entity or entry.name))
        items[entry.name] = tuple(names)
    return tuple(specs), items


def _aliases(doc: TaskDoc, items: dict[str, tuple[str, ...]], fail: Fail) -> dict[str, str]:
    known = [item for names in items.values() for item in names]
    exact, index = frozenset(known), match_index(known)
    aliases = {}
    for alias, target in (doc.aliases or {}).items():
        item = resolve_item(target, exact, index, {})
        if item not in exact:
            raise fail(f"aliases.{alias}", f"{target!r} is not an item of any list" if index.get(
                normalise_name(target), "") == "" else f"{target!r} matches several items; spell one exactly")
        aliases[normalise_name(alias)] = item
    return aliases


def _risk(doc: TaskDoc, severities: tuple[str, ...], fail: Fail) -> RiskRule:
    levels = tuple(doc.risk.levels)
    unique(fail, "risk.levels", list(levels), "level")
    if doc.risk.none not in levels:
        raise fail("risk.none", f"{doc.risk.none!r} is not one of the levels {', '.join(levels)}")
    unknown = sorted(set(doc.risk.by_severity) - set(severities))
    if unknown:
        raise fail(f"risk.by_severity.{unknown[0]}", f"unknown field; allowed here: {', '.join(sorted(severities))}")
    mapping = []
    for severity in severities:
        level = doc.risk.by_severity.get(severity)
        if level is None:
            raise fail(f"risk.by_severity.{severity}", "missing")
        if level not in levels:
            raise fail(f"risk.by_severity.{severity}", f"{level!r} is not one of the levels {', '.join(levels)}")
        mapping.append((severity, level))
    return RiskRule(levels, tuple(mapping), doc.risk.none, doc.risk.description or "the overall risk")



def _server(doc: ServerDoc | None, tools: list[ToolSpec], fail: Fail) -> ServerSpec | None:
    """The `[server]` table, checked against the tools that name it."""
    uses = [i for i, t in enumerate(tools) if t.mcp is not None]
    if doc is None:
        if uses:
            raise fail(f"tools[{uses[0]}].mcp", "an mcp tool needs a [server] table (command or url)")
        return None
    if (doc.command is None) == (doc.url is None):
        raise fail("server", "give either `command` (a server started over stdio) or `url` (a running "
                             "streamable-HTTP server), not both or neither")
    if doc.url is not None:
        if not doc.url.startswith(("http://", "https://")):
            raise fail("server.url", f"{doc.url!r} is not an http:// or https:// URL")
        for name in ("env", "per_run"):
            if getattr(doc, name) is not None:
                raise fail(f"server.{name}", "only a server the benchmark starts (`command`) has this field")
    if not uses:
        raise fail("server", "no tool is the server's: give a tool `mcp = true`")
    return ServerSpec(command=tuple(doc.command) if doc.command else None, url=doc.url,
                      env=tuple(sorted((doc.env or {}).items())), per_run=bool(doc.per_run),
                      **({"start_timeout_s": doc.start_timeout_s} if doc.start_timeout_s else {}))



def _distinct_answers(tools: list[ToolSpec], values: dict, fail: Fail) -> None:
    """Each answer a tool can give must be told apart from every other tool's, or nobody (model or oracle) can
    say which check a result belongs to."""
    statements: dict[str, str] = {}
    for i, tool in enumerate(tools):
        if tool.user_code:  # its answers are the user's; its matcher reads them, knowing which call they answer
            continue
        for kind in ("found", "clear") + (("value",) if values.get(tool.name) or tool.follow_up else ()):
            if kind == "found" and not tool.has_findings:
                continue
            text = getattr(tool, kind)
            if text in statements:
                raise fail(f"tools[{i}].{kind}", f"the same text as {statements[text]}; each answer must say which "
                                                 f"tool gave it")
            statements[text] = f"tools[{i}].{kind}"


def _one_namespace(lists: tuple[ListSpec, ...], tools: list[ToolSpec], narrative_field: str, fail: Fail) -> None:
    """The agent's inputs, its outputs and its tools must not shadow each other, nor DSPy's own names."""
    entries = [(spec.name, f"lists.{spec.name}") for spec in lists]
    entries += [(t.name, f"tools.{t.name}") for t in tools]
    entries += [(narrative_field, "report.field")]
    entries += [(t.answer_field, f"tools.{t.name}.answer_field") for t in tools if t.answer_field]
    entries += [(t.clear_field, f"tools.{t.name}.clear_field") for t in tools if t.clear_field]
    names: dict[str, str] = {}
    for name, where in entries:
        if name in RESERVED_NAMES:
            raise fail(where, f"{name!r} is a name DSPy or the benchmark uses itself")
        if name in names:
            raise fail(where, f"{name!r} is already used by {names[name]}")
        names[name] = where


def parse_task(raw: dict, source: str) -> Task:
    """A Task from a parsed TOML document; TaskFileError naming the field for anything wrong."""
    def fail(where: str, problem: str) -> TaskFileError:
        return TaskFileError(source, where, problem)

    doc = document_of(raw, fail)
    severities = tuple(doc.severities or ())
    unique(fail, "severities", list(severities), "severity")
    list_specs, items = _lists(doc, fail)
    aliases = _aliases(doc, items, fail)
    risk = _risk(doc, severities, fail) if _declares_findings(doc, fail) else NO_RISK
    tools, findings, values = [], {}, {}
    follow_ups: dict = {}
    for i, tool in enumerate(doc.tools):
        at, defaults = f"tools[{i}]", doc.behaviour or BehaviourDoc()
        if tool.kind == FOLLOW_UP:
            spec = follow_up_spec(tool, at, {t.name: t for t in tools}, severities, defaults, fail)
        else:
            spec = tool_spec(tool, at, items, severities, defaults, fail)
        if spec.name in findings:
            raise fail(f"{at}.name", f"duplicate tool name {spec.name!r}")
        tools.append(spec)
        findings[spec.name] = (findings_of(spec, tool.findings, at, items, severities, aliases, fail)
                               if tool.findings is not None else {})
        if spec.follow_up is not None:
            triggers = {k: e for k, e in findings[spec.follow_up.after].items() if e.severity in spec.follow_up.when}
            follow_ups[spec.name] = follow_up_answers(spec, tool.answers, at, items, aliases, triggers, fail)
        if tool.values is not None and (given := values_of(spec, tool.values, f"tools[{i}]", items, aliases, fail)):
            values[spec.name] = given
    _distinct_answers(tools, values, fail)
    server = _server(doc.server, tools, fail)
    if not any(t.required for t in tools):
        raise fail("tools", "no tool has required checks: a task needs a pair or cross tool, or an attribute tool "
                            "with required = true")
    narrative_field = (doc.report.field if doc.report else None) or "report"
    _one_namespace(list_specs, tools, narrative_field, fail)
    if doc.sweep is not None:
        try:
            parse_sizes(",".join(doc.sweep.sizes), [spec.name for spec in list_specs])
        except ValueError as exc:
            raise fail("sweep.sizes", str(exc)) from None
    schema = TaskSchema(
        name=doc.name, description=doc.description, instructions=doc.instructions,
        narrative_field=narrative_field,
        narrative_description=(doc.report.description if doc.report else None)
        or "the answer: each problem found, with its severity",
        notice=doc.notice or DEFAULT_NOTICE, lists=list_specs, tools=tuple(tools), severities=severities, risk=risk,
        sweep=tuple(doc.sweep.sizes) if doc.sweep else None, server=server,
        answer_detail=_answer_detail(doc, tools, fail),
    )
    return Task(schema, TaskData(items, {t: f for t, f in findings.items() if f or schema.tool(t).follow_up is None},
                                 values, aliases, follow_ups, truth=_truth_source(doc, tools)), source)


def _answer_detail(doc: TaskDoc, tools: list[ToolSpec], fail: Fail) -> DetailVocabulary | None:
    """`[answer_detail]`: its fields may not take a JSON answer's own keys (its check's arguments included), and
    its sentences may name a check's items only as {0} and {1}."""
    if doc.answer_detail is None:
        return None
    taken = RESERVED | {a for t in tools for a in t.args}
    for name, sentences in doc.answer_detail.fields.items():
        if name in taken:
            raise fail(f"answer_detail.fields.{name}", "is a key of the answers themselves; name it otherwise")
        for sentence in sentences:
            try:
                sentence.format("a", "b")
            except (IndexError, KeyError, ValueError):
                raise fail(f"answer_detail.fields.{name}", f"{sentence!r} may name the check's items only as "
                                                           "{0} and {1}") from None
            if ": " in sentence or '"' in sentence:
                raise fail(f"answer_detail.fields.{name}", f"{sentence!r} holds ': ' or a double quote, which would "
                                                           "read as a tool's value or end its answer's line")
    return DetailVocabulary(tuple((n, tuple(t)) for n, t in doc.answer_detail.fields.items()))


def _declares_findings(doc: TaskDoc, fail: Fail) -> bool:
    """Whether some tool has findings (then the file needs its severity scale and risk rule), or the task is
    lookups alone, scored on coverage (tasks.task.TruthSource `no_findings`)."""
    has = any(t.kind in ("pair", "cross") or t.findings is not None or t.answer_field for t in doc.tools
              if t.kind != FOLLOW_UP)
    for name in ("severities", "risk"):
        if has and getattr(doc, name) is None:
            raise fail(name, "missing: a tool with findings needs the task's severity scale and risk rule")
    return has


def _truth_source(doc: TaskDoc, tools: list[ToolSpec]) -> str:
    """declared: the file's findings are the truth (a tool without any has none); tools: every user tool with
    findings has a matcher, and the truth pass reads the truth from the answers; none: a user tool with findings
    has neither, so nobody can score the answers; no_findings: no tool has findings (lookups alone)."""
    if not any(t.has_findings for t in tools):
        return "no_findings"
    users = [(t, d) for t, d in zip(tools, doc.tools) if t.user_code and t.has_findings]
    if any(t.finding is None and d.findings is None for t, d in users):
        return "none"
    return "tools" if any(t.finding is not None for t, _ in users) else "declared"
