"""The task as any arm receives it, whatever framework it is written in: the task as text, its inputs as lists, and
the typed answer's fields with their JSON schema.

DSPy's arms build their signatures from the same fields (agents.signatures), so every arm, DSPy's or another
framework's, is asked for one answer and scored the same way. The typed answer's fields derive from the task:
- for each tool with findings, the list of findings it names (its arguments, plus a severity from the task's scale
  unless all its findings share one),
- for each tool with a clear field, the keys found clear,
- for each follow-up tool, the values it gave (its arguments and `value`),
- `overall_risk`, one of the task's levels, described with the task's own rule (where the task has findings),
- the narrative report (`narrative_field`).
`prose` asks for the narrative alone (the study's own form).
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

import pydantic

from rlmbench.tasks.task import RISK_FIELD, Case, TaskSchema, ToolSpec

ANSWER_FORMS = ("structured", "prose")


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def finding_model(schema: TaskSchema, tool: ToolSpec) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {a: (str, ...) for a in tool.args}
    if tool.reports_severity:
        fields["severity"] = (Literal[schema.severities], ...)  # type: ignore[valid-type]
    return pydantic.create_model(f"Reported{_camel(tool.label)}", **fields)


def follow_up_model(tool: ToolSpec) -> type[pydantic.BaseModel]:
    fields: dict[str, Any] = {a: (str, ...) for a in tool.args}
    return pydantic.create_model(f"{_camel(tool.label)}Value", **fields, value=(str, ...))


def key_model(tool: ToolSpec) -> type[pydantic.BaseModel]:
    return pydantic.create_model(f"{_camel(tool.label)}Clear", **{a: (str, ...) for a in tool.args})


@functools.cache
def answer_fields(schema: TaskSchema, answer_form: str = "structured") -> dict[str, tuple[Any, str]]:
    """The answer's fields in order, the narrative first: name -> (type, what the agent is told it holds)."""
    if answer_form not in ANSWER_FORMS:
        raise ValueError(f"answer form {answer_form!r} is not one of {', '.join(ANSWER_FORMS)}")
    fields: dict[str, tuple[Any, str]] = {schema.narrative_field: (str, schema.narrative_description)}
    if answer_form == "prose":
        return fields
    for tool in schema.finding_tools:
        fields[tool.answer_field] = (list[finding_model(schema, tool)], tool.answer_description)
        if tool.clear_field:
            fields[tool.clear_field] = (list[key_model(tool)], tool.clear_description)
    for tool in schema.follow_up_tools:
        fields[tool.answer_field] = (list[follow_up_model(tool)], tool.answer_description)
    if schema.finding_tools:  # lookups alone: no finding, so no overall risk to report
        rule = f"{schema.risk.description} ({schema.risk.describe(schema.severities)})"
        fields[RISK_FIELD] = (Literal[schema.risk.levels], rule)  # type: ignore[valid-type]
    return fields


@functools.cache
def answer_model(schema: TaskSchema, answer_form: str = "structured") -> type[pydantic.BaseModel]:
    """The typed answer as one model: its JSON schema is what an arm is asked for, and an answer that is not one
    fails validation as a DSPy arm's reply fails to parse."""
    return pydantic.create_model("TaskAnswer", **{name: (kind, pydantic.Field(description=text))
                                                  for name, (kind, text) in answer_fields(schema, answer_form).items()})


@functools.cache
def answer_schema(schema: TaskSchema, answer_form: str = "structured") -> dict[str, Any]:
    """The typed answer as a JSON schema (every field required), for an arm that asks its model for JSON."""
    return answer_model(schema, answer_form).model_json_schema()


@dataclass(frozen=True)
class TaskPrompt:
    """One run's task as an arm receives it."""

    schema: TaskSchema
    """What any agent may know of the task (its wording, lists, tools); never its ground truth."""
    inputs: dict[str, list[str]]
    """Each input list's items, exactly as the task spells them."""
    answer_form: str
    """`structured` (the typed answer) or `prose` (the narrative alone)."""

    @property
    def narrative_field(self) -> str:
        return self.schema.narrative_field

    @property
    def answer_schema(self) -> dict[str, Any]:
        return answer_schema(self.schema, self.answer_form)

    @property
    def text(self) -> str:
        """The task as one text: the instructions, each input with what it holds, and the answer's fields, as DSPy's
        signatures show them to a model."""
        lines = [self.schema.instructions, "", "Inputs:"]
        lines += [INPUT_LINE.format(name=spec.name, description=spec.description,
                                    items=json.dumps(self.inputs[spec.name])) for spec in self.schema.lists]
        lines += ["", ANSWER_HEADER]
        lines += [f"- {name}: {text}" for name, (_, text) in answer_fields(self.schema, self.answer_form).items()]
        return "\n".join(lines)


ANSWER_HEADER = "Answer with these fields:"
"""The line before the answer's fields in the task's text, one `- name: what it holds` a line."""
INPUT_LINE = "- {name} ({description}): {items}"
"""How the task's text shows one input list: its name, what it holds, its items as a JSON list."""


def inputs_in(schema: TaskSchema, text: str) -> dict[str, list[str]] | None:
    """The input lists a task's text shows (INPUT_LINE), as a model reads them; None where one is missing."""
    found = {}
    for spec in schema.lists:
        match = re.search(rf"^- {re.escape(spec.name)} \(.*\): (\[.*\])$", text, re.MULTILINE)
        if match is None:
            return None
        found[spec.name] = [str(item) for item in json.loads(match.group(1))]
    return found


def answer_names_in(text: str) -> list[str]:
    """The answer's field names a task's text lists (after ANSWER_HEADER), as a model reads them."""
    _, header, fields = text.partition(ANSWER_HEADER)
    return re.findall(r"^- (\w+): ", fields, re.MULTILINE) if header else []


def task_prompt(schema: TaskSchema, case: Case, answer_form: str = "structured") -> TaskPrompt:
    return TaskPrompt(schema, {name: list(items) for name, items in case.inputs.items()}, answer_form)
