"""Run approaches N times and turn each run into a record: wall time, outcome, coverage, usage.

A run that fails is recorded with its cause and the loop goes on; Ctrl-C stops the loop
but keeps every finished record. Each finished record is handed to `on_record` at once,
so the caller can save it before the next run starts.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Callable

import dspy
from dspy.primitives.code_interpreter import CodeInterpreterError
from dspy.utils.exceptions import (
    AdapterParseError,
    ContextWindowExceededError,
    LMAuthError,
    LMError,
    LMRateLimitError,
    LMServerError,
    LMTimeoutError,
)
from dspy.utils.usage_tracker import track_usage

from rlmbench.approaches import RUNNERS, SANDBOX_APPROACHES, ApproachConfig, Case, PlanError
from rlmbench.sandbox import SandboxSupply
from rlmbench.ledger import ToolLedger, measure_coverage
from tools import DEFAULT_SCENARIO, Scenario, make_tools

FAILURE_CATEGORIES = (
    "rate_limited", "server_error", "timeout", "auth_error", "context_window", "parse_error",
    "no_code", "sandbox_error", "plan_invalid", "lm_error", "error",
)


@dataclass
class RunRecord:
    approach: str
    run: int
    ok: bool
    wall_time_s: float
    coverage: dict
    lm_calls: int
    prompt_tokens: int
    completion_tokens: int
    usage_per_call: list[dict] = field(default_factory=list)
    failure: dict | None = None
    steps: int | None = None
    finished: bool | None = None  # False: the agent hit its iteration limit instead of finishing
    report: str | None = None
    sandbox_boot_s: float | None = None  # None: this run used no sandbox
    sandbox_boot_in_wall_time: bool | None = None  # True with --cold-sandbox
    sandbox_wait_s: float | None = None  # waiting for a warm sandbox, before the clock started

    def to_dict(self) -> dict:
        return asdict(self)


def classify_failure(exc: BaseException) -> str:
    """A stable category for a failed run, so failures can be counted and compared."""
    message = str(exc)
    if isinstance(exc, PlanError):
        return "plan_invalid"
    if isinstance(exc, AttributeError) and "'NoneType' object has no attribute 'strip'" in message:
        return "no_code"  # DSPy 3.4.1 RLM when the model returns no code (dspy issue 9632)
    if isinstance(exc, LMRateLimitError):
        return "rate_limited"
    if isinstance(exc, (LMTimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, LMServerError):
        return "server_error"
    if isinstance(exc, LMAuthError):
        return "auth_error"
    if isinstance(exc, ContextWindowExceededError):
        return "context_window"
    if isinstance(exc, AdapterParseError):
        return "parse_error"
    if isinstance(exc, CodeInterpreterError):
        return "sandbox_error"
    if isinstance(exc, LMError):
        return "lm_error"
    return "error"


def _usage(tracker) -> tuple[list[dict], int, int]:
    calls = [
        {"prompt_tokens": int(u.get("prompt_tokens") or 0), "completion_tokens": int(u.get("completion_tokens") or 0)}
        for entries in tracker.usage_data.values()
        for u in entries
    ]
    return calls, sum(c["prompt_tokens"] for c in calls), sum(c["completion_tokens"] for c in calls)


def _react_progress(trajectory: dict | None) -> tuple[int | None, bool | None]:
    if not trajectory:
        return None, None
    names = [v for k, v in trajectory.items() if k.startswith("tool_name_")]
    return len(names), bool(names) and names[-1] == "finish"


def run_once(
    approach: str,
    run: int,
    case: Case,
    lm: dspy.LM,
    config: ApproachConfig,
    scenario: Scenario = DEFAULT_SCENARIO,
    sandboxes: SandboxSupply | None = None,
) -> tuple[RunRecord, dict]:
    """One uncached run of one approach; returns its record and its trace. Never raises for a run failure.

    With `sandboxes`, a warm interpreter is reserved before the clock starts, and the boot
    figures of the interpreters the run used are recorded beside its wall time.
    """
    if sandboxes is not None and approach in SANDBOX_APPROACHES:
        config = replace(config, interpreter_factory=sandboxes)
        sandboxes.reserve()
    ledger = ToolLedger()
    tools = make_tools(scenario, ledger.record)
    output = None
    failure = None
    with dspy.context(lm=lm), track_usage() as tracker:
        started = time.perf_counter()
        try:
            output = RUNNERS[approach](case, tools, config)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failing run is recorded, never fatal
            failure = {
                "category": classify_failure(exc),
                "type": type(exc).__name__,
                "message": str(exc)[:500],
                "traceback": "".join(traceback.format_exception(exc))[-4000:],
            }
        wall = time.perf_counter() - started
    per_call, prompt_tokens, completion_tokens = _usage(tracker)
    boots = sandboxes.take_stats() if sandboxes is not None and approach in SANDBOX_APPROACHES else []
    trace: dict[str, Any] = dict(output.trace) if output else {}
    if approach == "rlm":
        steps = len(trace["trajectory"]) if trace.get("trajectory") is not None else None
        finished = trace.get("submitted")
    else:
        steps, finished = _react_progress(trace.get("trajectory"))
    record = RunRecord(
        approach=approach,
        run=run,
        ok=failure is None,
        wall_time_s=wall,
        coverage=measure_coverage(ledger.calls, case.medications, case.conditions).to_dict(),
        lm_calls=len(per_call),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usage_per_call=per_call,
        failure=failure,
        steps=steps,
        finished=finished,
        report=output.report if output else None,
        sandbox_boot_s=sum(b["boot_s"] or 0.0 for b in boots) if boots else None,
        sandbox_boot_in_wall_time=any(b["booted_in_run"] for b in boots) if boots else None,
        sandbox_wait_s=sum(b["wait_s"] for b in boots) if boots else None,
    )
    trace["tool_calls"] = [{"tool": c.tool, "args": c.args, "valid": c.valid} for c in ledger.calls]
    return record, trace


def run_benchmark(
    approaches: list[str],
    runs: int,
    case: Case,
    lm: dspy.LM,
    config: ApproachConfig,
    on_record: Callable[[RunRecord, dict], None] = lambda record, trace: None,
    scenario: Scenario = DEFAULT_SCENARIO,
    sandboxes: SandboxSupply | None = None,
) -> tuple[list[RunRecord], bool]:
    """Every approach `runs` times. Returns the finished records and whether Ctrl-C cut the loop short."""
    records: list[RunRecord] = []
    if sandboxes is not None:
        sandboxes.expect(runs * sum(a in SANDBOX_APPROACHES for a in approaches))
    try:
        for approach in approaches:
            for run in range(1, runs + 1):
                record, trace = run_once(approach, run, case, lm, config, scenario, sandboxes)
                records.append(record)
                on_record(record, trace)
    except KeyboardInterrupt:
        return records, True
    return records, False
