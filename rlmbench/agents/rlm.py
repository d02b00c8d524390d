"""RLM Direct (`dspy.RLM`): the model writes Python that loops over the tools inside the sandbox."""

from __future__ import annotations

from typing import Callable

import dspy

from rlmbench.agents.approach import ApproachConfig, ApproachOutput, output_of
from rlmbench.agents.signatures import TaskSignatures, signatures_for
from rlmbench.tasks.prompt import TaskPrompt


def build_rlm(signatures: TaskSignatures, tools: list[Callable], config: ApproachConfig) -> dspy.RLM:
    return dspy.RLM(signatures.answer, tools=tools, max_iters=config.rlm_max_iters,
                    max_llm_calls=config.rlm_max_llm_calls, interpreter_factory=config.interpreter_factory)


def rlm_submitted(pred: dspy.Prediction) -> bool:
    """False when the RLM ran out of iterations and DSPy forced an answer out of its history."""
    return pred.get("final_reasoning") != "Extract forced final output"


def run_rlm(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    signatures = signatures_for(task.schema, task.answer_form)
    pred = build_rlm(signatures, tools, config)(**task.inputs)
    return output_of(pred, signatures, {"trajectory": pred.trajectory, "submitted": rlm_submitted(pred)})
