"""The agent architectures under test: one registry entry each, built from the same tools and task.

An approach's `run(signatures, case, tools, config) -> ApproachOutput` only runs the DSPy
modules; timing, usage and coverage are measured around it by the runner, so every approach
is measured the same way. Its entry also says what the runner and the summary need to know
about it: its label, whether it needs a sandbox, whether it spends one LM call per check (and
so cannot take a large task), and how to read its steps and whether it finished from its trace.
Adding an approach is one function and one `Approach(...)` line here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import dspy
from dspy.utils.exceptions import AdapterParseError

from rlmbench.sandbox import OfflinePythonInterpreter
from rlmbench.signatures import TaskSignatures, answer_of
from rlmbench.task import Case

STEP_HEADROOM = 5
"""ReAct's default step limit is the required checks plus this (35 checks -> 40 steps)."""
DEFAULT_REACT_LIMIT = 300
"""Approaches that make one LM call per check are skipped above this many required checks."""


@dataclass(frozen=True)
class ApproachConfig:
    react_max_iters: int | None = None
    """ReAct's (and ReActV2's, and the hybrid executor's) step limit; None: required checks + STEP_HEADROOM."""
    rlm_max_iters: int = 10
    rlm_max_llm_calls: int = 20
    answer_form: str = "structured"
    """`structured`: the typed findings and the narrative; `prose`: the narrative only (signatures.py)."""
    interpreter_factory: Callable[[], Any] = OfflinePythonInterpreter

    def for_checks(self, required: int) -> "ApproachConfig":
        """The config with the step limit resolved for a case of `required` checks."""
        if self.react_max_iters is not None:
            return self
        return replace(self, react_max_iters=required + STEP_HEADROOM)

    def describe(self) -> dict:
        return {"react_max_iters": self.react_max_iters, "rlm_max_iters": self.rlm_max_iters,
                "rlm_max_llm_calls": self.rlm_max_llm_calls, "answer_form": self.answer_form}


@dataclass
class ApproachOutput:
    report: str
    trace: dict[str, Any] = field(default_factory=dict)
    answer: dict[str, Any] = field(default_factory=dict)
    """The typed answer as plain data (signatures.answer_of)."""


class PlanError(RuntimeError):
    """The planner returned no usable plan; a recorded failure of the hybrid run, not a crash."""


Progress = tuple[int | None, bool | None]
"""(steps used, finished) read from a trace; None where the trace does not say."""


def _tool_signatures(tools: list[Callable]) -> str:
    return "\n".join(f"- {t.name}({', '.join(t.args)}): {t.desc}" for t in (dspy.Tool(t) for t in tools))


def build_rlm(signatures: TaskSignatures, tools: list[Callable], config: ApproachConfig) -> dspy.RLM:
    return dspy.RLM(signatures.answer, tools=tools, max_iters=config.rlm_max_iters,
                    max_llm_calls=config.rlm_max_llm_calls, interpreter_factory=config.interpreter_factory)


def rlm_submitted(pred: dspy.Prediction) -> bool:
    """False when the RLM ran out of iterations and DSPy forced an answer out of its history."""
    return pred.get("final_reasoning") != "Extract forced final output"


def _report(pred: dspy.Prediction, signatures: TaskSignatures) -> str:
    return pred.get(signatures.report_field)


def run_react(signatures: TaskSignatures, case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    agent = dspy.ReAct(signatures.answer, tools=tools, max_iters=config.react_max_iters)
    pred = agent(**case.inputs)
    return ApproachOutput(_report(pred, signatures), {"trajectory": pred.trajectory}, answer_of(pred, signatures))


def run_react_v2(signatures: TaskSignatures, case: Case, tools: list[Callable],
                 config: ApproachConfig) -> ApproachOutput:
    """DSPy's ReActV2: several tool calls per turn, `submit` as a tool. Same tools, same turn limit as ReAct."""
    agent = dspy.ReActV2(signatures.answer, tools=tools, max_iters=config.react_max_iters)
    pred = agent(**case.inputs)
    trace = {"turns": [_turn(m) for m in pred.history.messages if "tool_calls" in m],
             "termination_reason": pred.termination_reason}
    return ApproachOutput(_report(pred, signatures), trace, answer_of(pred, signatures))


def _turn(message: dict) -> dict:
    """One ReActV2 turn for the trace: its thought, and each call with its result and error flag."""
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


def run_rlm(signatures: TaskSignatures, case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    pred = build_rlm(signatures, tools, config)(**case.inputs)
    return ApproachOutput(_report(pred, signatures), {"trajectory": pred.trajectory, "submitted": rlm_submitted(pred)},
                          answer_of(pred, signatures))


def run_hybrid(signatures: TaskSignatures, case: Case, tools: list[Callable],
               config: ApproachConfig) -> ApproachOutput:
    """Ablation: the RLM only writes the plan (no tools); a ReAct agent carries it out one call per step."""
    planner_sig = signatures.plan.with_instructions(
        signatures.plan.instructions + " Tools the executor has:\n" + _tool_signatures(tools))
    planner = dspy.RLM(planner_sig, max_iters=config.rlm_max_iters, max_llm_calls=config.rlm_max_llm_calls,
                       interpreter_factory=config.interpreter_factory)
    try:
        planned = planner(**case.inputs)
    except AdapterParseError as exc:  # the planner's final answer could not be read as a plan
        raise PlanError(f"planner returned no usable plan: {exc}") from exc
    plan = getattr(planned, "plan", None)
    trace: dict[str, Any] = {"planner_trajectory": planned.get("trajectory"), "planner_submitted": rlm_submitted(planned)}
    if not isinstance(plan, list) or not plan or not all(isinstance(p, signatures.planned_check) for p in plan):
        raise PlanError(f"planner returned no usable plan: {str(plan)[:200]!r}")
    trace["plan"] = [p.model_dump() for p in plan]
    # Same budget rule as the ReAct arm: a long plan does not buy the executor more steps.
    executor = dspy.ReAct(signatures.execute, tools=tools, max_iters=config.react_max_iters)
    pred = executor(**case.inputs, plan=plan)
    trace["trajectory"] = pred.trajectory
    return ApproachOutput(_report(pred, signatures), trace, answer_of(pred, signatures))


def react_progress(trace: dict) -> Progress:
    trajectory = trace.get("trajectory")
    if not trajectory:
        return None, None
    names = [v for k, v in trajectory.items() if k.startswith("tool_name_")]
    return len(names), bool(names) and names[-1] == "finish"


def rlm_progress(trace: dict) -> Progress:
    steps = len(trace["trajectory"]) if trace.get("trajectory") is not None else None
    return steps, trace.get("submitted")


def react_v2_progress(trace: dict) -> Progress:
    steps = len(trace["turns"]) if "turns" in trace else None
    return steps, (trace["termination_reason"] == "submit") if "termination_reason" in trace else None


@dataclass(frozen=True)
class Approach:
    name: str
    """The registry key, used on the command line and in the records (`rlm`)."""
    label: str
    """What the summary calls it."""
    run: Callable[[TaskSignatures, Case, list[Callable], ApproachConfig], ApproachOutput]
    uses_sandbox: bool
    """Needs a Deno/Pyodide interpreter (from the warm pool, or cold)."""
    one_call_per_check: bool
    """Spends an LM call on every check: skipped above DEFAULT_REACT_LIMIT (--react-limit) checks."""
    progress: Callable[[dict], Progress]
    """(steps, finished) from the approach's trace."""
    step_limit: Callable[[ApproachConfig], int | None]
    """The limit its steps are counted against."""


def _react_steps(config: ApproachConfig) -> int | None:
    return config.react_max_iters


def _rlm_iterations(config: ApproachConfig) -> int:
    return config.rlm_max_iters


REGISTRY: dict[str, Approach] = {a.name: a for a in (
    Approach("react", "ReAct", run_react, uses_sandbox=False, one_call_per_check=True, progress=react_progress,
             step_limit=_react_steps),
    Approach("rlm", "RLM Direct", run_rlm, uses_sandbox=True, one_call_per_check=False, progress=rlm_progress,
             step_limit=_rlm_iterations),
    Approach("hybrid", "RLM planner + ReAct executor", run_hybrid, uses_sandbox=True, one_call_per_check=True,
             progress=react_progress, step_limit=_react_steps),
    Approach("react_v2", "ReActV2", run_react_v2, uses_sandbox=False, one_call_per_check=False,
             progress=react_v2_progress, step_limit=_react_steps),
)}
APPROACHES: tuple[str, ...] = tuple(REGISTRY)


def fits(approach: str, required_checks: int, react_limit: int) -> bool:
    """Whether an approach runs on a case of this many checks (the one rule, for the benchmark and the sweep)."""
    return not REGISTRY[approach].one_call_per_check or required_checks <= react_limit
