"""The agent architectures under test, each built from the same tools and the same task.

An approach is a function `(case, tools, config) -> ApproachOutput`. It only runs the DSPy
modules; timing, usage and coverage are measured around it by the runner, so every
approach is measured the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import dspy
import pydantic
from dspy.utils.exceptions import AdapterParseError

from rlmbench.findings import FINDING_FIELDS, DrugPair, ReportedContraindication, ReportedInteraction, RiskLevel
from rlmbench.sandbox import OfflinePythonInterpreter

APPROACHES = ("react", "rlm", "hybrid", "react_v2")
SANDBOX_APPROACHES = frozenset({"rlm", "hybrid"})
APPROACH_LABELS = {
    "react": "ReAct",
    "rlm": "RLM Direct",
    "hybrid": "RLM planner + ReAct executor",
    "react_v2": "ReActV2",
}

TASK = (
    "Produce a thorough risk assessment of this patient's medication regimen, "
    "using the available tools to consult the drug database."
)


def _with_findings(signature: type[dspy.Signature]) -> type[dspy.Signature]:
    """The structured part of every assessment, so each approach's answer is scored the same way."""
    return (
        signature
        .append("interactions", dspy.OutputField(desc="the drug interactions found, each with its severity"),
                list[ReportedInteraction])
        .append("contraindications", dspy.OutputField(desc="the drug-condition contraindications found"),
                list[ReportedContraindication])
        .append("pairs_without_interaction",
                dspy.OutputField(desc="the drug pairs you found to have no known interaction"), list[DrugPair])
        .append("overall_risk", dspy.OutputField(desc="the overall risk of the regimen"), RiskLevel)
    )


class RiskAssessment(dspy.Signature):
    medications: list[str] = dspy.InputField(desc="the patient's current medications")
    conditions: list[str] = dspy.InputField(desc="the patient's medical conditions")
    risk_assessment: str = dspy.OutputField(desc="the risk assessment: each problem found, with its severity")


RiskAssessment = _with_findings(RiskAssessment.with_instructions(TASK))


class PlannedCheck(pydantic.BaseModel):
    tool: Literal["check_drug_interaction", "check_contraindication", "get_drug_class"]
    args: dict[str, str]


class PlanChecks(dspy.Signature):
    medications: list[str] = dspy.InputField(desc="the patient's current medications")
    conditions: list[str] = dspy.InputField(desc="the patient's medical conditions")
    plan: list[PlannedCheck] = dspy.OutputField(desc="the database checks to run, one tool call each")


class ExecutePlan(dspy.Signature):
    medications: list[str] = dspy.InputField(desc="the patient's current medications")
    conditions: list[str] = dspy.InputField(desc="the patient's medical conditions")
    plan: list[PlannedCheck] = dspy.InputField(desc="the checks to run, in order")
    risk_assessment: str = dspy.OutputField(desc="the risk assessment: each problem found, with its severity")


ExecutePlan = _with_findings(ExecutePlan.with_instructions(
    TASK + " A planner has listed the checks to run: carry them out with the tools, then write the assessment."
))


@dataclass(frozen=True)
class ApproachConfig:
    react_max_iters: int = 40
    rlm_max_iters: int = 10
    rlm_max_llm_calls: int = 20
    interpreter_factory: Callable[[], Any] = OfflinePythonInterpreter


@dataclass
class Case:
    medications: list[str]
    conditions: list[str]


@dataclass
class ApproachOutput:
    report: str
    trace: dict[str, Any] = field(default_factory=dict)
    findings: dict[str, Any] = field(default_factory=dict)


def findings_of(pred: dspy.Prediction) -> dict[str, Any]:
    """The structured answer as plain data, for scoring and for the results file."""
    def plain(value):
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value.model_dump() if isinstance(value, pydantic.BaseModel) else value
    return {name: plain(pred.get(name)) for name in FINDING_FIELDS}


class PlanError(RuntimeError):
    """The planner returned no usable plan; a recorded failure of the hybrid run, not a crash."""


def _tool_signatures(tools: list[Callable]) -> str:
    lines = []
    for tool in (dspy.Tool(t) for t in tools):
        lines.append(f"- {tool.name}({', '.join(tool.args)}): {tool.desc}")
    return "\n".join(lines)


def build_rlm(tools: list[Callable], config: ApproachConfig, signature=RiskAssessment) -> dspy.RLM:
    return dspy.RLM(signature, tools=tools, max_iters=config.rlm_max_iters,
                    max_llm_calls=config.rlm_max_llm_calls, interpreter_factory=config.interpreter_factory)


def run_react(case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    agent = dspy.ReAct(RiskAssessment, tools=tools, max_iters=config.react_max_iters)
    pred = agent(medications=case.medications, conditions=case.conditions)
    return ApproachOutput(pred.risk_assessment, {"trajectory": pred.trajectory}, findings_of(pred))


def run_react_v2(case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    """DSPy's ReActV2: several tool calls per turn, `submit` as a tool. Same tools, same turn limit as ReAct."""
    agent = dspy.ReActV2(RiskAssessment, tools=tools, max_iters=config.react_max_iters)
    pred = agent(medications=case.medications, conditions=case.conditions)
    turns = [m for m in pred.history.messages if "tool_calls" in m]
    trace = {
        "turns": [{"thought": str(m.get("next_thought") or ""),
                   "tool_calls": [{"name": c.name, "args": c.args} for c in m["tool_calls"].tool_calls]}
                  for m in turns],
        "termination_reason": pred.termination_reason,
    }
    return ApproachOutput(pred.risk_assessment, trace, findings_of(pred))


def run_rlm(case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    pred = build_rlm(tools, config)(medications=case.medications, conditions=case.conditions)
    return ApproachOutput(pred.risk_assessment, {"trajectory": pred.trajectory, "submitted": rlm_submitted(pred)},
                          findings_of(pred))


def rlm_submitted(pred: dspy.Prediction) -> bool:
    """False when the RLM ran out of iterations and DSPy forced an answer out of its history."""
    return pred.get("final_reasoning") != "Extract forced final output"


def run_hybrid(case: Case, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    """Ablation: the RLM only writes the plan (no tools); a ReAct agent carries it out one call per step."""
    planner_sig = PlanChecks.with_instructions(
        "Plan every database check needed for a thorough risk assessment of this patient's medication "
        "regimen. Do not run the checks: a separate executor calls the tools. Tools the executor has:\n"
        + _tool_signatures(tools)
    )
    planner = dspy.RLM(planner_sig, max_iters=config.rlm_max_iters, max_llm_calls=config.rlm_max_llm_calls,
                       interpreter_factory=config.interpreter_factory)
    try:
        planned = planner(medications=case.medications, conditions=case.conditions)
    except AdapterParseError as exc:  # the planner's final answer could not be read as a plan
        raise PlanError(f"planner returned no usable plan: {exc}") from exc
    plan = getattr(planned, "plan", None)
    trace: dict[str, Any] = {"planner_trajectory": planned.get("trajectory"), "planner_submitted": rlm_submitted(planned)}
    if not isinstance(plan, list) or not plan or not all(isinstance(p, PlannedCheck) for p in plan):
        raise PlanError(f"planner returned no usable plan: {str(plan)[:200]!r}")
    trace["plan"] = [p.model_dump() for p in plan]
    # Same budget rule as the ReAct arm: a long plan does not buy the executor more steps.
    executor = dspy.ReAct(ExecutePlan, tools=tools, max_iters=config.react_max_iters)
    pred = executor(medications=case.medications, conditions=case.conditions, plan=plan)
    trace["trajectory"] = pred.trajectory
    return ApproachOutput(pred.risk_assessment, trace, findings_of(pred))


RUNNERS: dict[str, Callable[[Case, list[Callable], ApproachConfig], ApproachOutput]] = {
    "react": run_react,
    "rlm": run_rlm,
    "hybrid": run_hybrid,
    "react_v2": run_react_v2,
}
