"""ReActV2 (`dspy.ReActV2`, experimental in DSPy 3.4.1): native function calling, several tool calls per
turn, `submit` as a tool. Same tools and the same turn limit as ReAct: the fair modern baseline."""

from __future__ import annotations

from typing import Callable

import dspy

from rlmbench.agents.approach import ApproachConfig, ApproachOutput, output_of
from rlmbench.agents.signatures import signatures_for
from rlmbench.tasks.prompt import TaskPrompt


def run_react_v2(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    signatures = signatures_for(task.schema, task.answer_form)
    agent = dspy.ReActV2(signatures.answer, tools=tools, max_iters=config.react_max_iters)
    pred = agent(**task.inputs)
    trace = {"turns": [_turn(m) for m in pred.history.messages if "tool_calls" in m],
             "termination_reason": pred.termination_reason}
    return output_of(pred, signatures, trace)


def _turn(message: dict) -> dict:
    """One turn for the trace: its thought, and each call with its result and error flag."""
    calls = message["tool_calls"]
    attached = getattr(calls, "tool_call_results", None)
    results = {r.call_id: r for r in (attached.tool_call_results if attached is not None else [])}
    out = []
    for call in calls.tool_calls:
        result = results.get(call.id)
        out.append({"name": call.name, "args": call.args,
                    "result": None if result is None else str(result.value)[:2000],
                    "error": bool(result and result.is_error)})
    return {"thought": str(message.get("next_thought") or ""), "tool_calls": out}
