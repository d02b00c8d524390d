"""ReAct (`dspy.ReAct`): one tool call per LM call, the whole trajectory re-sent every step."""

from __future__ import annotations

from typing import Callable

import dspy

from rlmbench.agents.approach import ApproachConfig, ApproachOutput, output_of
from rlmbench.agents.signatures import TaskSignatures
from rlmbench.tasks.task import Case


def run_react(signatures: TaskSignatures, case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    agent = dspy.ReAct(signatures.answer, tools=tools, max_iters=config.react_max_iters)
    pred = agent(**case.inputs)
    return output_of(pred, signatures, {"trajectory": pred.trajectory})
