"""The DSPy signatures of a task, built from the neutral task seam's answer fields (tasks.prompt), so DSPy's arms
answer exactly what any other arm is asked for. The hybrid's plan type comes from the task's tools.

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

from rlmbench.tasks.prompt import answer_fields
from rlmbench.tasks.task import TaskSchema


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
    return {name: (kind, dspy.OutputField(desc=text)) for name, (kind, text) in answer_fields(schema, answer_form).items()}


@functools.cache
def signatures_for(schema: TaskSchema, answer_form: str = "structured") -> TaskSignatures:
    """Built once per task schema and answer form: DSPy signatures are classes, and building them is not free."""
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
