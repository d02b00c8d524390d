"""The shape of a task file, as pydantic models: every table, every field, its type, nothing else.

Unknown fields are refused (`extra="forbid"`), so a misspelt field never silently falls back to a
default. `document_of` turns the first problem into the one line a user sees
(`tasks/mine.toml: tools[1].colour: unknown field; allowed here: ...`). The rules between fields
(a finding's items are in its tool's lists, templates hold their placeholders, names are unique)
are task_file.py's.
"""

from __future__ import annotations

import keyword
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import PydanticCustomError


def _identifier(name: str) -> str:
    if not name.isidentifier() or keyword.iskeyword(name):
        shown = repr(name).replace("{", "{{").replace("}", "}}")  # the text is a template: braces are literal
        raise PydanticCustomError("identifier", f"{shown} is not a Python identifier (letters, digits, underscores)")
    return name


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Identifier = Annotated[Text, AfterValidator(_identifier)]
Texts = Annotated[list[Text], Field(min_length=1)]
Milliseconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
FailureRate = Annotated[float, Field(ge=0, lt=1)]
"""Below 1: a check that always failed could never be recovered."""


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, use_attribute_docstrings=True)


class ListDoc(_Table):
    name: Identifier
    """The input field's name (`medications`)."""
    description: Text
    entity: Text | None = None
    """One item in words (`drug`); default: the list's name."""
    items: Texts


class FindingDoc(_Table):
    items: Texts
    """The check's arguments: two items for a pair or cross tool, one for an attribute tool."""
    severity: Text | None = None
    """Required unless the tool sets one severity for all its findings."""
    details: Text


class AnswerDoc(_Table):
    items: Texts
    """The check's arguments, as its finding names them."""
    value: Text
    """The exact value the follow-up answers: a short code or a number."""


class MatcherDoc(_Table):
    """How a finding is read from a user's tool answer (tasks.matcher)."""

    pattern: Text | None = None
    """Text answers: a regular expression matching a finding."""
    severity_group: int | Text | None = None
    """The pattern's group holding the severity; default: the tool's `severity`."""
    field: Text | None = None
    """Dict answers: the field that says whether the answer is a finding."""
    clear: list[str] | None = None
    """Dict answers: the field's values that mean no finding."""
    severity_field: Text | None = None
    """Dict answers: the field holding the severity; default: the tool's `severity`."""


class ServerDoc(_Table):
    """The task's MCP server."""

    command: Texts | None = None
    """stdio: the command and its arguments, run in the task file's folder."""
    url: Text | None = None
    """streamable HTTP: the URL of a running server."""
    env: dict[str, str] | None = None
    """Extra environment variables for a started server."""
    per_run: bool | None = None
    """A fresh server for every run."""
    start_timeout_s: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    """Seconds the server may take to start and list its tools (default 60)."""


class ToolDoc(_Table):
    name: Identifier
    kind: Text
    """pair, cross, attribute or follow_up (task_file.FILE_KINDS)."""
    lists: Texts | None = None
    """Required except for a follow-up, which takes its `after` tool's."""
    args: Annotated[list[Identifier], Field(min_length=1)] | None = None
    """Required unless `function` or `mcp` gives them."""
    doc: Text | None = None
    """Required unless `function` or `mcp` gives it."""
    function: Text | None = None
    """`module:attr`: the user's Python function answers the calls."""
    mcp: bool | Identifier | None = None
    """true: the server's tool of this name answers the calls; a name: the server's tool of that name."""
    finding: MatcherDoc | None = None
    """How a finding is read from the answers of a `function` or `mcp` tool."""
    required: bool | None = None
    label: Text | None = None
    answer_field: Identifier | None = None
    answer_description: Text | None = None
    clear_field: Identifier | None = None
    clear_description: Text | None = None
    severity: Text | None = None
    found: Text | None = None
    clear: Text | None = None
    value: Text | None = None
    finding_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    latency_ms: Milliseconds | None = None
    """Mean time a call takes; default: [behaviour]'s, else 0."""
    latency_jitter_ms: Milliseconds | None = None
    """A call takes latency_ms +/- this, uniformly; default: [behaviour]'s, else 0."""
    transient_failure_rate: FailureRate | None = None
    """The share of checks whose first call fails; default: [behaviour]'s, else 0."""
    returns: Text | None = None
    """text (default) or json (task.TOOL_RETURNS)."""
    answer_tokens: Annotated[int, Field(ge=0, le=200_000)] | None = None
    """About this many tokens of detail in each answer (tasks.detail); default: [behaviour]'s, else 0."""
    findings: list[FindingDoc] | None = None
    values: dict[str, Text] | None = None
    after: Identifier | None = None
    """A follow-up's tool whose findings require it."""
    when: Texts | None = None
    """A follow-up's severities that require it."""
    answers: list[AnswerDoc] | None = None
    """A follow-up's value for each finding that requires it."""


class RiskDoc(_Table):
    levels: Texts
    none: Text
    by_severity: dict[str, Text]
    description: Text | None = None


class ReportDoc(_Table):
    field: Identifier | None = None
    description: Text | None = None


class SweepDoc(_Table):
    sizes: Texts


class BehaviourDoc(_Table):
    """Defaults for every tool of the task."""

    latency_ms: Milliseconds | None = None
    latency_jitter_ms: Milliseconds | None = None
    transient_failure_rate: FailureRate | None = None
    answer_tokens: Annotated[int, Field(ge=0, le=200_000)] | None = None


class AnswerDetailDoc(_Table):
    """What a tool's answer holds besides its finding, for answers of `answer_tokens` (tasks.detail)."""

    fields: Annotated[dict[Identifier, Annotated[list[Text], Field(min_length=1)]], Field(min_length=1)]
    """A field of the answer's record (`mechanism`) -> sentences it is drawn from; `{0}`, `{1}` name the check's
    items."""


class TaskDoc(_Table):
    name: Identifier
    description: Text
    instructions: Text
    notice: Text | None = None
    report: ReportDoc | None = None
    severities: Texts | None = None
    """Required where a tool has findings; a task of lookups alone has none."""
    risk: RiskDoc | None = None
    """Required where a tool has findings."""
    lists: Annotated[list[ListDoc], Field(min_length=1)]
    tools: Annotated[list[ToolDoc], Field(min_length=1)]
    aliases: dict[str, Text] | None = None
    sweep: SweepDoc | None = None
    behaviour: BehaviourDoc | None = None
    answer_detail: AnswerDetailDoc | None = None
    server: ServerDoc | None = None


def where(loc: tuple[Any, ...]) -> str:
    """('tools', 1, 'findings', 0, 'items') -> 'tools[1].findings[0].items'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _table_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model whose table holds the last field of `loc`."""
    model: Any = TaskDoc
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        annotation = model.model_fields[part].annotation
        candidates = [annotation, *getattr(annotation, "__args__", ())]
        nested = [c for c in candidates for c in (c, *getattr(c, "__args__", ()))
                  if isinstance(c, type) and issubclass(c, BaseModel)]
        if not nested:
            return None
        model = nested[0]
    return model


_PROBLEMS = {
    "missing": "missing",
    "string_type": "must be a non-empty string",
    "string_too_short": "must be a non-empty string",
    "list_type": "must be an array",
    "model_type": "must be a table",
    "model_attributes_type": "must be a table",
    "dict_type": "must be a table",
    "bool_type": "must be true or false",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "int_type": "must be a whole number or a group name",
    "finite_number": "must be a finite number",
}
_BOUNDS = {"greater_than_equal": ("ge", ">="), "less_than_equal": ("le", "<="), "less_than": ("lt", "<")}


def _problem(error: dict) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        table = _table_at(error["loc"])
        allowed = ", ".join(sorted(table.model_fields)) if table else ""
        return "unknown field" + (f"; allowed here: {allowed}" if allowed else "")
    if kind == "too_short":
        minimum = error.get("ctx", {}).get("min_length", 1)
        return f"needs at least {minimum} entr{'y' if minimum == 1 else 'ies'}"
    if kind in _BOUNDS:
        name, sign = _BOUNDS[kind]
        return f"must be a number {sign} {error.get('ctx', {}).get(name)}"
    return _PROBLEMS.get(kind, error["msg"])


def document_of(raw: dict, fail: Any) -> TaskDoc:
    """The file as a TaskDoc; `fail(where, problem)` builds the error for its first problem.

    An unknown field is reported before a missing one, as a reader fixes a typo first."""
    try:
        return TaskDoc.model_validate(raw)
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        # A union (`X | None`) reports each arm; the arm that is not None says what is wrong.
        first = next(e for e in errors if "none_required" != e["type"])
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and p[:1].isupper() and "[" in p))
        raise fail(where(loc), _problem(first)) from None
