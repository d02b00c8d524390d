"""The DSPy signatures of a task: inputs from its lists, the typed answer from its tools.

Every approach answers the same signature, so every answer is scored the same way. The typed
answer fields are derived from the task, never written per domain:
- for each tool with findings, the list of findings it names (its arguments, plus a severity
  from the task's scale unless all its findings share one),
- for each tool with a clear field, the keys found clear,
- for each follow-up tool, the values it gave (its arguments and `value`),
- `overall_risk`, one of the task's levels, described with the task's own rule,
- the narrative report (`narrative_field`).
The hybrid's plan type comes from the task's tools.

`--answer prose` asks for the narrative alone, the study's own form: a typed list of clear checks
invites a model to make (and list) every check, so the structured form may drive coverage by
itself. With prose the findings are not scored; coverage, tokens and diagnostics still are.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import dspy
import pydantic

from rlmbench.tasks.task import RISK_FIELD, TaskSchema, ToolSpec

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


@dataclass(frozen=True)
class TaskSignatures:
    answer: type[dspy.Signature]
    """Lists in, report and typed answer out: what ReAct, RLM and ReActV2 answer."""
    plan: type[dspy.Signature]
    """The hybrid's planner: lists in, the checks to run out."""
    execute: type[dspy.Signature]
    """The hybrid's executor: lists and the plan in, the same answer as `answer` out."""
    planned_check: type[pydantic.BaseModel]
    answer_fields: tuple[str, ...]
    """The typed answer's fields, without the narrative report."""
    narrative_field: str
    """The narrative report's field."""


def _inputs(schema: TaskSchema) -> dict[str, tuple]:
    return {spec.name: (list[str], dspy.InputField(desc=spec.description)) for spec in schema.lists}


def _outputs(schema: TaskSchema, answer_form: str) -> dict[str, tuple]:
    outputs: dict[str, tuple] = {schema.narrative_field: (str, dspy.OutputField(desc=schema.narrative_description))}
    if answer_form == "prose":
        return outputs
    for tool in schema.finding_tools:
        outputs[tool.answer_field] = (list[finding_model(schema, tool)],
                                      dspy.OutputField(desc=tool.answer_description))
        if tool.clear_field:
            outputs[tool.clear_field] = (list[key_model(tool)], dspy.OutputField(desc=tool.clear_description))
    for tool in schema.follow_up_tools:
        outputs[tool.answer_field] = (list[follow_up_model(tool)], dspy.OutputField(desc=tool.answer_description))
    if not schema.finding_tools:  # lookups alone: no finding, so no overall risk to report
        return outputs
    rule = f"{schema.risk.description} ({schema.risk.describe(schema.severities)})"
    outputs[RISK_FIELD] = (Literal[schema.risk.levels], dspy.OutputField(desc=rule))  # type: ignore[valid-type]
    return outputs


@functools.cache
def signatures_for(schema: TaskSchema, answer_form: str = "structured") -> TaskSignatures:
    """Built once per task schema and answer form: DSPy signatures are classes, and building them is not free."""
    if answer_form not in ANSWER_FORMS:
        raise ValueError(f"answer form {answer_form!r} is not one of {', '.join(ANSWER_FORMS)}")
    outputs = _outputs(schema, answer_form)
    answer = dspy.make_signature({**_inputs(schema), **outputs}, schema.instructions, "TaskAnswer")
    planned_check = pydantic.create_model(
        "PlannedCheck", tool=(Literal[tuple(t.name for t in schema.tools)], ...), args=(dict[str, str], ...))
    plan = dspy.make_signature(
        {**_inputs(schema),
         "plan": (list[planned_check], dspy.OutputField(desc="the tool calls to run, one entry each"))},
        f"Plan every tool call needed for this task: {schema.instructions} "
        "Do not run the calls: a separate executor calls the tools.",
        "PlanChecks")
    execute = dspy.make_signature(
        {**_inputs(schema), "plan": (list[planned_check], dspy.InputField(desc="the checks to run, in order")),
         **outputs},
        schema.instructions + " A planner has listed the checks to run: carry them out with the tools, "
                              "then write the answer.",
        "ExecutePlan")
    return TaskSignatures(answer, plan, execute, planned_check,
                          tuple(name for name in outputs if name != schema.narrative_field), schema.narrative_field)


def answer_of(pred: dspy.Prediction, signatures: TaskSignatures) -> dict[str, Any]:
    """The typed answer as plain data, for scoring and for the results file."""
    def plain(value):
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value.model_dump() if isinstance(value, pydantic.BaseModel) else value
    return {name: plain(pred.get(name)) for name in signatures.answer_fields}
