"""The GEPA compile command: check settings, state the budget, score before, compile, score after, save."""

from __future__ import annotations

import contextlib
import difflib
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import dspy
from dspy.primitives.code_interpreter import CodeInterpreterError

from rlmbench.agents.approach import ApproachConfig
from rlmbench.exits import EXIT_CONFIG
from rlmbench.gepa.training import (
    RLMDirectAgent,
    case_of,
    evaluate,
    instructions_of,
    make_coverage_metric,
    make_semantic_f1_metric,
    split_cases,
)
from rlmbench.lm.models import build_lm, missing_key_message
from rlmbench.lm.oracle import ORACLE_NOTICE
from rlmbench.lm.settings import ModelSettings
from rlmbench.sandbox.interpreter import SandboxSupply, check_deno
from rlmbench.scoring.ledger import ToolCall
from rlmbench.tasks.backends import UserTools
from rlmbench.tasks.backends.truth import open_with_truth
from rlmbench.tasks.task import Task, required_checks
from rlmbench.tasks.task_file import TaskFileError
from rlmbench.words import counted

REFLECTION_MINIBATCH = 3


@dataclass(frozen=True)
class CompileSettings:
    task: Task
    program: ModelSettings
    reflection: ModelSettings
    metric: str = "coverage"
    max_metric_calls: int = 12
    seed: int = 0
    log_dir: Path | None = None
    output: Path = Path("compiled/rlm_gepa.json")
    dry_run: bool = False
    rlm_max_iters: int = 10
    rlm_max_llm_calls: int = 20


def _budget(settings: CompileSettings, test_size: int) -> list[str]:
    # GEPA may finish the minibatch it started when the budget runs out, hence the extra minibatch.
    runs = settings.max_metric_calls + REFLECTION_MINIBATCH + 2 * test_size
    low, high = 2 * runs, (settings.rlm_max_iters + 1) * runs
    reflections = math.ceil(settings.max_metric_calls / (2 * REFLECTION_MINIBATCH)) + 1
    lines = [
        f"GEPA budget: {settings.max_metric_calls} metric calls (each one RLM run), plus {2 * test_size} "
        f"held-out runs (before and after).",
        f"Up to {runs} RLM runs of 2 to {settings.rlm_max_iters + 1} LM calls each on {settings.program.model}: "
        f"roughly {low} to {high} program LM calls; about {reflections} reflection calls on "
        f"{settings.reflection.model}.",
    ]
    if settings.metric == "semantic_f1":
        lines.append(f"--metric semantic_f1 adds one judge call on {settings.reflection.model} per metric call "
                     f"(about {runs}).")
    return lines


def _hand_made_prediction(task: Task, example: dspy.Example) -> dspy.Prediction:
    """A prediction that made every required check but the first, and one with a misspelt name:
    shows what the metric says."""
    first, *rest = required_checks(task.schema, case_of(example, task).inputs)
    calls = [ToolCall(c.tool, c.args, "answered") for c in rest]
    misspelt = {name: value + ("e" if i == 0 else "") for i, (name, value) in enumerate(first.args.items())}
    calls.append(ToolCall(first.tool, misspelt, "invalid"))
    return dspy.Prediction(report="(hand-made)", tool_calls=calls)


def _instruction_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    out = []
    for name, old in before.items():
        new = after.get(name, old)
        if new == old:
            out.append(f"{name}: unchanged")
            continue
        diff = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="", n=1)
        out.append(f"{name}: changed\n" + "\n".join(f"    {line}" for line in diff))
    return out


def run(settings: CompileSettings) -> int:
    """Run the compile (or the dry run) and return the process exit code."""
    problem = _setup_problem(settings)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG
    user_tools = None
    try:
        if settings.task.schema.user_code:  # your functions or server, with the truth read from them
            user_tools = open_with_truth(settings.task, lambda line: print(line, file=sys.stderr, flush=True))
            settings = replace(settings, task=user_tools.task)
        splits = split_cases(settings.task, settings.seed)
    except (ValueError, TaskFileError) as exc:
        if user_tools is not None:
            user_tools.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        result = _run_program(settings, splits, user_tools)
    finally:
        if user_tools is not None:
            user_tools.close()
    if result is not None:
        _print_result(settings, splits, result)
    return 0


def _run_program(settings: CompileSettings, splits, user_tools: UserTools | None) -> _CompileResult | None:
    """The dry run (None) or the compile, with the sandboxes (and your tools' connection) closed after."""
    supply = SandboxSupply.for_benchmark(cold=False, notice=lambda line: print(line, file=sys.stderr))
    config = ApproachConfig(rlm_max_iters=settings.rlm_max_iters, rlm_max_llm_calls=settings.rlm_max_llm_calls,
                            interpreter_factory=supply)
    run_tools = user_tools.for_run() if user_tools is not None else None
    program = RLMDirectAgent(settings.task, config, run_tools.answer if run_tools else None)
    _print_configuration(settings, splits, program)
    try:
        if settings.dry_run:
            _dry_run(settings.task, splits)
            return None
        return _compile(settings, splits, program)
    finally:
        supply.close()
        if run_tools is not None:
            run_tools.close()


def _setup_problem(settings: CompileSettings) -> str | None:
    """The one line that stops the compile before it starts (a judge the oracle cannot be, a key, Deno)."""
    if settings.metric == "semantic_f1" and settings.reflection.is_oracle:
        return ("error: --metric semantic_f1 needs a real judge model; the oracle cannot judge text. "
                "Use --metric coverage offline.")
    if settings.dry_run:
        return None
    for model in (settings.program, settings.reflection):
        problem = missing_key_message(model)
        if problem:
            return problem
    try:
        check_deno()
    except CodeInterpreterError as exc:
        return f"error: the RLM sandbox needs Deno: {exc}"
    return None


def _is_oracle(settings: CompileSettings) -> bool:
    return settings.program.is_oracle and settings.reflection.is_oracle


def _print_configuration(settings: CompileSettings, splits, program: RLMDirectAgent) -> None:
    print(f"Task:              {settings.task.name} ({settings.task.source})")
    print(f"Program model:     {settings.program.model}")
    print(f"Reflection model:  {settings.reflection.model}")
    print(f"Metric:            {settings.metric}")
    print(f"Cases (seed {settings.seed}):   {len(splits.train)} train, {len(splits.val)} validation, "
          f"{len(splits.test)} held-out test")
    print(f"Program:           RLM Direct (max_iters={settings.rlm_max_iters}, "
          f"max_llm_calls={settings.rlm_max_llm_calls}); predictors: {', '.join(instructions_of(program))}")
    print(f"GEPA log dir:      {settings.log_dir or '(none: an interrupted compile cannot resume)'}")
    print(f"Output:            {settings.output}")
    for line in _budget(settings, len(splits.test)):
        print(line)


def _dry_run(task: Task, splits) -> None:
    example = splits.test[0]
    scored = make_coverage_metric(task)(example, _hand_made_prediction(task, example))
    inputs = " x ".join(str(items) for items in case_of(example, task).inputs.values())
    print(f"\nDry run: coverage metric on a hand-made prediction for {inputs}:\n"
          f"  score {scored.score:.3f}\n  feedback: {scored.feedback}")
    print("\nNo LM was called.")


@dataclass
class _CompileResult:
    before: float
    after: float
    compiled: dspy.Module
    before_instructions: dict[str, str]
    calls: dict[str, int]
    """LM calls per model."""


def _compile(settings: CompileSettings, splits, program: RLMDirectAgent) -> _CompileResult:
    """Score the program on the held-out cases, compile it with GEPA, score it again, save it."""
    task, oracle = settings.task, _is_oracle(settings)
    reflection_lm = build_lm(settings.reflection, task.schema)
    metric = (make_coverage_metric(task) if settings.metric == "coverage"
              else make_semantic_f1_metric(task, reflection_lm))
    if not oracle:
        print("\nWARNING: this compile calls paid models; the budget above is what it may spend.",
              file=sys.stderr, flush=True)
    dspy.configure(lm=build_lm(settings.program, task.schema), track_usage=True)
    before_instructions = instructions_of(program)
    # GEPA's and DSPy's progress bars print to stdout; keep stdout for the results.
    with dspy.track_usage() as usage, contextlib.redirect_stdout(sys.stderr):
        before = evaluate(program, splits.test, metric)
        optimizer = dspy.GEPA(
            metric=metric,
            max_metric_calls=settings.max_metric_calls,
            reflection_lm=reflection_lm,
            reflection_minibatch_size=REFLECTION_MINIBATCH,
            # With the oracle every score is perfect; GEPA would skip reflection entirely.
            skip_perfect_score=not oracle,
            seed=settings.seed,
            log_dir=str(settings.log_dir) if settings.log_dir else None,
            num_threads=1,
            track_stats=True,
        )
        compiled = optimizer.compile(program, trainset=splits.train, valset=splits.val)
        after = evaluate(compiled, splits.test, metric)
    settings.output.parent.mkdir(parents=True, exist_ok=True)
    compiled.save(str(settings.output))
    return _CompileResult(before, after, compiled, before_instructions,
                          {model: len(entries) for model, entries in usage.usage_data.items()})


def _print_result(settings: CompileSettings, splits, result: _CompileResult) -> None:
    task = settings.task
    print(f"\nHeld-out {settings.metric} ({len(splits.test)} cases): before {result.before:.3f}, "
          f"after {result.after:.3f}")
    print("LM calls made: " + ", ".join(f"{n} on {model}" for model, n in result.calls.items()))
    stats = getattr(result.compiled, "detailed_results", None)
    if stats is not None:
        print(f"GEPA: {stats.total_metric_calls} metric calls; {counted(len(stats.candidates), 'candidate')} kept "
              f"(the seed is candidate 0); best: candidate {stats.best_idx}, validation score "
              f"{stats.val_aggregate_scores[stats.best_idx]:.3f}. Proposals that did not beat their parent on "
              f"a minibatch are not kept; GEPA's log on stderr shows them.")
    print("Instructions:")
    for line in _instruction_changes(result.before_instructions, instructions_of(result.compiled)):
        print(f"  {line}")
    print(f"\nSaved the compiled program to {settings.output}")
    print(f"Load it with: RLMDirectAgent(load_task({task.source!r}), config).load({str(settings.output)!r})")
    if _is_oracle(settings):
        print(ORACLE_NOTICE + " With the oracle, GEPA's reflection is exercised with skip_perfect_score off.")
    print(task.schema.notice)
