"""RLM planner + ReAct executor, an ablation: the RLM only writes the plan (no tools), and a ReAct agent
carries it out one call per step."""

from __future__ import annotations

from typing import Any, Callable

import dspy
from dspy.utils.exceptions import AdapterParseError

from rlmbench.agents.approach import ApproachConfig, ApproachOutput, output_of
from rlmbench.agents.rlm import rlm_submitted
from rlmbench.agents.signatures import signatures_for
from rlmbench.tasks.prompt import TaskPrompt


class PlanError(RuntimeError):
    """The planner returned no usable plan; a recorded failure of the hybrid run, not a crash."""


def _tool_signatures(tools: list[Callable]) -> str:
    return "\n".join(f"- {t.name}({', '.join(t.args)}): {t.desc}" for t in (dspy.Tool(t) for t in tools))


def run_hybrid(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    signatures = signatures_for(task.schema, task.answer_form)
    planner_sig = signatures.plan.with_instructions(
        signatures.plan.instructions + " Tools the executor has:\n" + _tool_signatures(tools))
    planner = dspy.RLM(planner_sig, max_iters=config.rlm_max_iters, max_llm_calls=config.rlm_max_llm_calls,
                       interpreter_factory=config.interpreter_factory)
    try:
        planned = planner(**task.inputs)
    except AdapterParseError as exc:  # the planner's final answer could not be read as a plan
        raise PlanError(f"planner returned no usable plan: {exc}") from exc
    plan = getattr(planned, "plan", None)
    trace: dict[str, Any] = {"planner_trajectory": planned.get("trajectory"), "planner_submitted": rlm_submitted(planned)}
    if not isinstance(plan, list) or not plan or not all(isinstance(p, signatures.planned_check) for p in plan):
        raise PlanError(f"planner returned no usable plan: {str(plan)[:200]!r}")
    trace["plan"] = [p.model_dump() for p in plan]
    # Same budget rule as the ReAct arm: a long plan does not buy the executor more steps.
    executor = dspy.ReAct(signatures.execute, tools=tools, max_iters=config.react_max_iters)
    pred = executor(**task.inputs, plan=plan)
    trace["trajectory"] = pred.trajectory
    return output_of(pred, signatures, trace)
