"""Compiling the RLM agent with dspy.GEPA: patient cases, the agent, the metrics, the compile.

Dataset, program and metric are separate pieces (as in inspect_ai's dataset/solver/scorer):
- `patient_cases` draws cases from the simulated database with a fixed seed;
- `RiskAssessmentAgent` is the benchmark's RLM Direct agent, returning the tool calls it made;
- `coverage_metric` scores those calls against the case's required checks, deterministically,
  with feedback that names the missed checks for GEPA's reflection.
"""

from __future__ import annotations

import contextvars
import random
import statistics
from dataclasses import dataclass
from typing import Any, Callable

import dspy

from rlmbench.approaches import ApproachConfig, build_rlm
from rlmbench.ledger import ToolCall, ToolLedger, measure_coverage
from tools import DEFAULT_SCENARIO, Scenario, describe_contraindication, describe_interaction, make_tools

_CURRENT_LEDGER: contextvars.ContextVar[ToolLedger | None] = contextvars.ContextVar("rlmbench_ledger", default=None)


def _record_to_current_ledger(tool: str, args: dict, valid: bool) -> None:
    ledger = _CURRENT_LEDGER.get()
    if ledger is not None:
        ledger.record(tool, args, valid)


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splits:
    train: list[dspy.Example]
    val: list[dspy.Example]
    test: list[dspy.Example]


def patient_cases(n: int, seed: int, scenario: Scenario = DEFAULT_SCENARIO) -> list[dspy.Example]:
    """Distinct patients: 3 to all medications, 1 to all conditions, drawn with a fixed seed."""
    rng = random.Random(seed)
    meds, conds = list(scenario.medications), list(scenario.conditions)
    cases: list[dspy.Example] = []
    seen: set[tuple] = set()
    while len(cases) < n:
        chosen_meds = sorted(rng.sample(meds, rng.randint(3, len(meds))), key=meds.index)
        chosen_conds = sorted(rng.sample(conds, rng.randint(1, len(conds))), key=conds.index)
        key = (tuple(chosen_meds), tuple(chosen_conds))
        if key in seen:
            continue
        seen.add(key)
        cases.append(dspy.Example(medications=chosen_meds, conditions=chosen_conds).with_inputs("medications", "conditions"))
    return cases


def split_cases(seed: int, train: int = 6, val: int = 3, test: int = 3) -> Splits:
    cases = patient_cases(train + val + test, seed)
    return Splits(cases[:train], cases[train:train + val], cases[train + val:])


def reference_assessment(example: dspy.Example, scenario: Scenario = DEFAULT_SCENARIO) -> str:
    """The ground-truth findings for a case, as text (the reference for semantic_f1)."""
    meds, conds = list(example.medications), list(example.conditions)
    lines = []
    for i, a in enumerate(meds):
        for b in meds[i + 1:]:
            found = scenario.interaction(a, b)
            if found:
                lines.append(describe_interaction(a, b, found))
    for d in meds:
        for c in conds:
            found = scenario.contraindication(d, c)
            if found:
                lines.append(describe_contraindication(d, c, found))
    if not lines:
        lines.append("No interactions or contraindications in the database for this regimen.")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Program
# --------------------------------------------------------------------------------------------


class RiskAssessmentAgent(dspy.Module):
    """The benchmark's RLM Direct agent, returning the report and the tool calls this call made.

    The tools are bound once; each call records into its own ledger (a context variable), so
    concurrent evaluations do not mix their calls.
    """

    def __init__(self, config: ApproachConfig | None = None, scenario: Scenario = DEFAULT_SCENARIO) -> None:
        super().__init__()
        self.rlm = build_rlm(make_tools(scenario, _record_to_current_ledger), config or ApproachConfig())

    def forward(self, medications: list[str], conditions: list[str]) -> dspy.Prediction:
        ledger = ToolLedger()
        token = _CURRENT_LEDGER.set(ledger)
        try:
            pred = self.rlm(medications=medications, conditions=conditions)
        finally:
            _CURRENT_LEDGER.reset(token)
        return dspy.Prediction(risk_assessment=pred.risk_assessment, trajectory=pred.trajectory,
                               tool_calls=ledger.calls)


def instructions_of(program: dspy.Module) -> dict[str, str]:
    return {name: predictor.signature.instructions for name, predictor in program.named_predictors()}


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _named(items: list[tuple[str, str]], joiner: str, limit: int = 15) -> str:
    shown = ", ".join(joiner.join(item) for item in items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def coverage_metric(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None,
                    pred_name: str | None = None, pred_trace: Any = None,
                    scenario: Scenario = DEFAULT_SCENARIO) -> dspy.Prediction:
    """Fraction of the required checks (every pair, every drug x condition) the run really called."""
    calls: list[ToolCall] = list(getattr(pred, "tool_calls", None) or [])
    coverage = measure_coverage(calls, list(gold.medications), list(gold.conditions))
    score = coverage.fraction
    parts = [f"Called {coverage.covered} of the {coverage.required} required checks "
             f"({coverage.pairs_covered}/{coverage.pairs_required} drug pairs, "
             f"{coverage.conditions_covered}/{coverage.conditions_required} drug-condition checks)."]
    if coverage.missed_pairs:
        parts.append("Missed check_drug_interaction for: " + _named(coverage.missed_pairs, " + ") + ".")
    if coverage.missed_conditions:
        parts.append("Missed check_contraindication for: " + _named(coverage.missed_conditions, " in ") + ".")
    invalid = [c for c in calls if not c.valid]
    if invalid:
        known = set(scenario.medications) | set(scenario.conditions)
        unknown = sorted({str(v) for c in invalid for v in c.args.values() if v not in known})
        calls_text = "1 tool call" if len(invalid) == 1 else f"{len(invalid)} tool calls"
        parts.append(f"{calls_text} used names the database does not know"
                     + (f": {', '.join(unknown[:10])}." if unknown else " (or the same drug twice)."))
    if score == 1.0:
        parts.append("Every required check was made.")
    return dspy.Prediction(score=score, feedback=" ".join(parts))


def make_semantic_f1_metric(judge: dspy.LM) -> Callable[..., dspy.Prediction]:
    """DSPy's SemanticF1 of the report against the ground-truth findings, judged by `judge` (LM calls)."""
    semantic_f1 = dspy.evaluate.SemanticF1()

    def semantic_f1_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        example = dspy.Example(
            question=f"Risk assessment for medications {list(gold.medications)} and conditions {list(gold.conditions)}",
            response=reference_assessment(gold),
        )
        with dspy.context(lm=judge):
            score = float(semantic_f1(example, dspy.Prediction(response=pred.risk_assessment or "")).score)
        coverage_feedback = coverage_metric(gold, pred).feedback
        return dspy.Prediction(score=score, feedback=f"Semantic F1 against the reference findings: {score:.2f}. "
                                                     + coverage_feedback)

    return semantic_f1_metric


def evaluate(program: dspy.Module, examples: list[dspy.Example], metric) -> float:
    """Mean score on held-out examples; a run that raises scores 0."""
    scores = []
    for example in examples:
        try:
            pred = program(**example.inputs())
            scores.append(float(metric(example, pred).score))
        except Exception:
            scores.append(0.0)
    return statistics.fmean(scores) if scores else 0.0
