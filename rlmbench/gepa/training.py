"""Compiling the RLM agent with dspy.GEPA: cases, the agent, the metrics, for any task.

Dataset, program and metric are separate pieces (as in inspect_ai's dataset/solver/scorer):
- `task_cases` draws cases from the task's own lists (subsets of each) with a fixed seed;
- `RLMDirectAgent` is the benchmark's RLM Direct agent, returning the tool calls it made;
- `make_coverage_metric(task)` scores those calls against the case's required checks,
  deterministically, with feedback that names the missed checks for GEPA's reflection.
"""

from __future__ import annotations

import contextvars
import random
import statistics
from dataclasses import dataclass
from typing import Any, Callable

import dspy

from rlmbench.agents.approach import ApproachConfig
from rlmbench.agents.rlm import build_rlm
from rlmbench.agents.signatures import signatures_for
from rlmbench.scoring.ledger import ToolCall, ToolLedger, measure_coverage
from rlmbench.tasks.task import Case, Task, required_checks
from rlmbench.tasks.tools import Answerer, CallOutcome, describe_finding, make_tools

_CURRENT_LEDGER: contextvars.ContextVar[ToolLedger | None] = contextvars.ContextVar("rlmbench_ledger", default=None)
Metric = Callable[..., dspy.Prediction]


def _record_to_current_ledger(tool: str, args: dict, outcome: CallOutcome, started: float, ended: float,
                              answer: object = None) -> None:
    ledger = _CURRENT_LEDGER.get()
    if ledger is not None:
        ledger.record(tool, args, outcome, started, ended, answer)


# --------------------------------------------------------------------------------------------
# Dataset
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splits:
    train: list[dspy.Example]
    val: list[dspy.Example]
    test: list[dspy.Example]


def case_of(example: dspy.Example, task: Task) -> Case:
    return Case({spec.name: list(example[spec.name]) for spec in task.schema.lists})


def task_cases(task: Task, n: int, seed: int) -> list[dspy.Example]:
    """Distinct cases: for each list a subset (at least 3 items where a pair tool needs pairs, else 1),
    drawn with a fixed seed. Fewer than `n` when the task's lists allow fewer distinct cases."""
    rng = random.Random(seed)
    paired = {t.lists[0] for t in task.schema.tools if t.kind == "pair"}
    names = [spec.name for spec in task.schema.lists]
    cases: list[dspy.Example] = []
    seen: set[tuple] = set()
    for _ in range(200 * n):
        if len(cases) == n:
            break
        chosen = {}
        for name in names:
            items = list(task.data.items[name])
            low = min(len(items), 3 if name in paired else 1)
            chosen[name] = sorted(rng.sample(items, rng.randint(low, len(items))), key=items.index)
        key = tuple(tuple(chosen[name]) for name in names)
        if key in seen:
            continue
        seen.add(key)
        cases.append(dspy.Example(**chosen).with_inputs(*names))
    return cases


def split_cases(task: Task, seed: int, train: int = 6, val: int = 3, test: int = 3) -> Splits:
    cases = task_cases(task, train + val + test, seed)
    if len(cases) < train + val + test:
        raise ValueError(f"task {task.name} has only {len(cases)} distinct cases; GEPA needs {train + val + test}")
    return Splits(cases[:train], cases[train:train + val], cases[train + val:])


def reference_answer(example: dspy.Example, task: Task) -> str:
    """The ground-truth findings for a case, as the tools state them (the reference for semantic_f1)."""
    lines = []
    for check in required_checks(task.schema, case_of(example, task).inputs):
        found = task.finding(check.tool, check.key)
        if found:
            lines.append(describe_finding(task.schema.tool(check.tool), check.args, found.severity, found.details))
    return "\n".join(lines) or "No findings in the database for this case."


# --------------------------------------------------------------------------------------------
# Program
# --------------------------------------------------------------------------------------------


class RLMDirectAgent(dspy.Module):
    """The benchmark's RLM Direct agent for one task, returning the report and the tool calls this call made.

    The tools are bound once; each call records into its own ledger (a context variable), so
    concurrent evaluations do not mix their calls.
    """

    def __init__(self, task: Task, config: ApproachConfig | None = None, user_code: Answerer | None = None) -> None:
        super().__init__()
        self.signatures = signatures_for(task.schema)
        tools = make_tools(task, _record_to_current_ledger, user_code=user_code)  # user_code: a task of your code
        self.rlm = build_rlm(self.signatures, tools, config or ApproachConfig())

    def forward(self, **inputs: list[str]) -> dspy.Prediction:
        ledger = ToolLedger()
        token = _CURRENT_LEDGER.set(ledger)
        try:
            pred = self.rlm(**inputs)
        finally:
            _CURRENT_LEDGER.reset(token)
        return dspy.Prediction(report=pred.get(self.signatures.narrative_field), trajectory=pred.trajectory,
                               tool_calls=ledger.calls)


def instructions_of(program: dspy.Module) -> dict[str, str]:
    return {name: predictor.signature.instructions for name, predictor in program.named_predictors()}


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------


def _named(keys: list[list[str]], joiner: str, limit: int = 15) -> str:
    shown = ", ".join(joiner.join(key) for key in keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


_JOINERS = {"pair": " + ", "cross": " x ", "attribute": ""}


def make_coverage_metric(task: Task) -> Metric:
    """GEPA's 5-argument metric: the share of the case's required checks the run really called."""
    known = {item for items in task.data.items.values() for item in items}

    def coverage_metric(gold: dspy.Example, pred: dspy.Prediction, trace: Any = None,
                        pred_name: str | None = None, pred_trace: Any = None) -> dspy.Prediction:
        calls: list[ToolCall] = list(getattr(pred, "tool_calls", None) or [])
        coverage = measure_coverage(task, case_of(gold, task), calls)
        by_tool = ", ".join(f"{t.covered}/{t.required} {t.tool}" for t in coverage.tools)
        parts = [f"Called {coverage.covered} of the {coverage.required} required checks ({by_tool})."]
        for entry in coverage.tools:
            if entry.missed:
                joiner = _JOINERS[task.schema.tool(entry.tool).kind]
                parts.append(f"Missed {entry.tool} for: {_named(entry.missed, joiner)}.")
        invalid = [c for c in calls if c.outcome == "invalid"]  # a transient failure named known items
        if invalid:
            unknown = sorted({str(v) for c in invalid for v in c.args.values() if v not in known})
            calls_text = "1 tool call" if len(invalid) == 1 else f"{len(invalid)} tool calls"
            parts.append(f"{calls_text} used names the task does not know"
                         + (f": {', '.join(unknown[:10])}." if unknown else " (or the same item twice)."))
        if coverage.share == 1.0:
            parts.append("Every required check was made.")
        return dspy.Prediction(score=coverage.share, feedback=" ".join(parts))

    return coverage_metric


def make_semantic_f1_metric(task: Task, judge: dspy.LM) -> Metric:
    """DSPy's SemanticF1 of the report against the ground-truth findings, judged by `judge` (LM calls)."""
    semantic_f1 = dspy.evaluate.SemanticF1()
    coverage_metric = make_coverage_metric(task)

    def semantic_f1_metric(gold, pred, trace=None, pred_name=None, pred_trace=None) -> dspy.Prediction:
        inputs = ", ".join(f"{name} {list(items)}" for name, items in case_of(gold, task).inputs.items())
        example = dspy.Example(question=f"{task.schema.instructions} ({inputs})",
                               response=reference_answer(gold, task))
        with dspy.context(lm=judge):
            score = float(semantic_f1(example, dspy.Prediction(response=pred.report or "")).score)
        coverage_feedback = coverage_metric(gold, pred).feedback
        return dspy.Prediction(score=score, feedback=f"Semantic F1 against the reference findings: {score:.2f}. "
                                                     + coverage_feedback)

    return semantic_f1_metric


def evaluate(program: dspy.Module, examples: list[dspy.Example], metric: Metric) -> float:
    """Mean score on held-out examples; a run that raises scores 0."""
    scores = []
    for example in examples:
        try:
            pred = program(**example.inputs())
            scores.append(float(metric(example, pred).score))
        except Exception:
            scores.append(0.0)
    return statistics.fmean(scores) if scores else 0.0
