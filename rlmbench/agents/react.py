"""ReAct (`dspy.ReAct`): one tool call per LM call, the whole trajectory re-sent every step."""

from __future__ import annotations

from typing import Callable

import dspy

from rlmbench.agents.approach import ApproachConfig, ApproachOutput, output_of
from rlmbench.agents.signatures import signatures_for
from rlmbench.tasks.prompt import TaskPrompt


def run_react(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    signatures = signatures_for(task.schema, task.answer_form)
    agent = dspy.ReAct(signatures.answer, tools=tools, max_iters=config.react_max_iters)
    pred = agent(**task.inputs)
    return output_of(pred, signatures, {"trajectory": pred.trajectory})
