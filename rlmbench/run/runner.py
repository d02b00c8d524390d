"""Run approaches N times and turn each run into a record: wall time, outcome, coverage, usage.

A run that fails is recorded with its cause and the loop goes on; Ctrl-C stops the loop
but keeps every finished record. Each finished record is handed to `on_record` at once,
so the caller can save it before the next run starts.

Each run works in a thread of its own while this module's loop keeps the clock: a run that
passes its time budget is recorded as `timeout` from what it had done so far, and stopped
through its `RunControl`. The same loop runs the runs of several models side by side, each model
up to its own concurrency.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, replace
from typing import Any, Callable

import dspy
from dspy.primitives.facade import SHIM_SETUP

from rlmbench.agents.approach import ApproachConfig
from rlmbench.agents.registry import REGISTRY
from rlmbench.lm.gated import RunCancelled, bind_run
from rlmbench.lm.settings import Price
from rlmbench.results.records import CallUsage, Failure, IdleWait, LMCall, RunRecord, TimeSplit
from rlmbench.run.control import RunControl
from rlmbench.run.failures import failure_of
from rlmbench.run.interrupts import hold_interrupts
from rlmbench.run.live_progress import RunView
from rlmbench.run.server_idle import ServerWatch
from rlmbench.sandbox.interpreter import SandboxSupply, TimedInterpreter
from rlmbench.scoring.diagnostics import diagnose
from rlmbench.scoring.findings import score_answer
from rlmbench.scoring.ledger import ToolCall, ToolLedger, answer_tokens, measure_coverage, trace_entry
from rlmbench.tasks.behaviour import ToolSettings
from rlmbench.tasks.prompt import task_prompt
from rlmbench.tasks.task import Case, Task
from rlmbench.tasks.tools import as_invoked, calls_needed, can_fail, make_tools


def _usage(calls: list[LMCall]) -> list[CallUsage]:
    """The tokens of each answered call of a run's log, in order."""
    return [CallUsage(prompt_tokens=c.prompt_tokens or 0, completion_tokens=c.completion_tokens or 0)
            for c in calls if c.error is None and not c.cancelled]


@dataclass(frozen=True)
class ModelRun:
    """One model of the matrix, as the runner drives it."""

    name: str
    lm: dspy.LM
    concurrency: int = 1
    """This model's runs at once; runs of different models always go side by side."""
    price: Price | None = None
    server: ServerWatch | None = None
    """A local server that a cut run may leave working (run.server_idle); None for hosted models and the oracle."""


class _RunState:
    """What a run has produced so far, readable by the loop when the run runs out of time."""

    def __init__(self, task: Task, model: ModelRun, approach: str, run: int, case: Case,
                 case_label: str | None = None) -> None:
        self.task, self.model, self.approach, self.run = task, model, approach, run
        self.case, self.case_label = case, case_label
        self.control = RunControl()
        self.ledger = ToolLedger()
        self.started: float | None = None
        self.limits: tuple[int | None, ...] = (None,)
        """The arm's step limits under this run's config (agents.approach.Approach.limits), the step limit first."""
        self.idle_wait: IdleWait | None = None
        self.failures_injected = False
        """Some tool can fail transiently in this run: its record measures the recovery."""

    @property
    def label(self) -> str:
        """`RLM Direct 2` (`RLM Direct 16x6 2` in a sweep): the run as a reader finds it in the summary."""
        where = f" {self.case_label}" if self.case_label else ""
        return f"{REGISTRY[self.approach].label}{where} {self.run}"

    def view(self, runs: int) -> RunView:
        """What the run has done so far, for the live progress lines."""
        calls, lm_calls, cells = self.ledger.calls, self.control.lm_calls, len(self.control.cells)
        coverage = measure_coverage(self.task, self.case, calls)
        approach = REGISTRY[self.approach]
        return RunView(model=self.model.name, approach=approach.label, run=self.run, runs=runs, task=self.task.name,
                       case=self.case_label, elapsed_s=time.perf_counter() - self.started,
                       lm_calls=len(lm_calls), lm_call_in_flight_s=self.control.lm_call_in_flight_s(),
                       tool_calls=len(calls), covered=coverage.covered, required=coverage.required,
                       cells=cells if approach.runs_code else None,
                       steps=approach.trace.progress(len(calls), lm_calls, cells, self.limits))

    def _time_split(self, needs_sandbox: bool, boots: list[TimedInterpreter], calls: list[ToolCall]) -> TimeSplit:
        control = self.control
        span = max(c.ended for c in calls) - min(c.started for c in calls) if calls else None
        return TimeSplit(model_s=control.model_s, model_in_cells_s=control.model_in_cells_s, tools_s=control.tools_s,
                         tools_in_cells_s=control.tools_in_cells_s,
                         tool_calls_sum_s=sum(c.ended - c.started for c in calls), tool_calls_span_s=span,
                         cells_s=control.cells_s if needs_sandbox else None,
                         tool_path_s=sum(i.tool_path_seconds for i in boots) if needs_sandbox and boots else None,
                         bridged_calls=sum(i.bridged_calls for i in boots) if needs_sandbox and boots else None)

    def record(self, wall: float, output=None, failure: Failure | None = None) -> tuple[RunRecord, dict]:
        trace: dict[str, Any] = dict(output.trace) if output else {}
        approach = REGISTRY[self.approach]
        calls = self.ledger.calls
        sizes = [answer_tokens(call) for call in calls]  # counted once, after the run's clock
        lm_calls, cells = self.control.lm_calls_to_now(), self.control.cells  # every LM figure comes from this log
        per_call = _usage(lm_calls)
        boots = [i for i in self.control.interpreters if isinstance(i, TimedInterpreter)]
        prompt_tokens = sum(c.prompt_tokens for c in per_call)
        completion_tokens = sum(c.completion_tokens for c in per_call)
        price = self.model.price
        record = RunRecord(
            task=self.task.name,
            model=self.model.name,
            approach=self.approach,
            run=self.run,
            ok=failure is None,
            wall_time_s=wall,
            coverage=measure_coverage(self.task, self.case, calls, self.failures_injected),
            lm_calls=len(lm_calls),
            lm_calls_failed=sum(c.error is not None for c in lm_calls),
            lm_calls_cut=sum(c.cancelled for c in lm_calls),
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost_usd=price.cost(prompt_tokens, completion_tokens) if price else None,
            usage_per_call=per_call,
            failure=failure,
            narrative=output.narrative if output else None,
            sandbox_boot_s=sum(i.boot_seconds or 0.0 for i in boots) if boots else None,
            sandbox_boot_in_wall_time=any(not i.warm for i in boots) if boots else None,
            sandbox_wait_s=sum(i.wait_seconds for i in boots) if boots else None,
            pacing_wait_s=self.control.pacing_wait_s,
            answer_score=(score_answer(output.answer, self.task, self.case, calls)
                          if output and output.answer and self.task.data.scored else None),
            case=self.case_label,
            diagnostics=diagnose(self.task.schema, approach.trace, approach.runs_code, trace, self.limits[0],
                                 calls, lm_calls, cells, self.failures_injected, self.control.dspy_log),
            time_split=self._time_split(approach.needs_sandbox, boots, calls),
            sandbox_boot_kind=boots[0].boot_kind if boots else None,
            idle_wait=self.idle_wait,
            answer_tokens_per_call=_mean([size for size in sizes if size is not None]),
        )
        trace["tool_calls"] = [trace_entry(c, self.started or 0.0, size) for c, size in zip(calls, sizes)]
        trace["lm_calls"] = [c.model_dump() for c in lm_calls]
        if self.control.dspy_log:
            trace["dspy_log"] = self.control.dspy_log  # what DSPy logged about this run, kept off stderr
        if approach.runs_code:
            trace["code_cells"] = [c.model_dump() for c in cells]
        if output and output.answer:
            trace["answer"] = output.answer  # the typed answer itself: the report names each finding it scored
        return record, trace


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


class _TrackedFactory:
    """The run's interpreter factory, registering each interpreter with the run so a timeout can stop it.

    RLM reads `execution_instructions` off its factory to describe the runtime in the action
    prompt, so the wrapper carries the wrapped factory's text: the prompt stays DSPy's own.
    """

    def __init__(self, factory: Callable[[], Any], control: RunControl) -> None:
        self._factory, self._control = factory, control
        self.execution_instructions = getattr(factory, "execution_instructions", "")

    def __call__(self) -> Any:
        interpreter = self._control.track(self._factory())
        execute, control = interpreter.execute, self._control

        def logged_execute(code: str, *args: Any, **kwargs: Any) -> Any:
            """Every cell the sandbox runs for the model goes into the run's log, with the error it raised.
            DSPy's own facade setup (a fixed source it runs first) is not the model's code and is left out."""
            if code is SHIM_SETUP:
                return execute(code, *args, **kwargs)
            cell = control.start_cell(code)
            try:
                result = execute(code, *args, **kwargs)
            except Exception as exc:
                control.end_cell(cell, f"{type(exc).__name__}: {str(exc)[:500]}", None)
                raise
            control.end_cell(cell, None, None if result is None else str(result)[:2000])
            return result

        interpreter.execute = logged_execute
        return interpreter


def _execute(state: _RunState, config: ApproachConfig, sandboxes: SandboxSupply | None,
             tool_settings: ToolSettings) -> tuple[RunRecord, dict]:
    """The body of one run, in its own thread. Never raises for a run failure."""
    if state.model.server is not None:  # before the clock: another run's abandoned call is not this run's time
        state.idle_wait = state.model.server.settle()
    bind_run(state.control)
    approach = REGISTRY[state.approach]
    factory = sandboxes if sandboxes is not None and approach.needs_sandbox else config.interpreter_factory
    if sandboxes is not None and approach.needs_sandbox:
        sandboxes.reserve()
    config = replace(config.for_checks(calls_needed(state.task, state.case, tool_settings)), interpreter_factory=_TrackedFactory(factory, state.control))
    state.limits = approach.limits(config)
    try:  # the user's functions and server: a server that died in an earlier run is started afresh first
        user_code = tool_settings.user_tools.for_run(state.control.cancel) if tool_settings.user_tools else None
    except Exception as exc:  # a per-run server that does not start fails this run only
        state.started = state.control.started = time.perf_counter()
        return state.record(0.0, failure=failure_of(exc, approach.failure_categories))
    tools = [state.control.timed_tool(tool) for tool in make_tools(state.task, state.ledger.record, tool_settings,
                                                                   user_code.answer if user_code else None)]
    state.failures_injected = can_fail(as_invoked(state.task.schema, tool_settings))
    output = None
    failure = None
    with dspy.context(lm=state.model.lm):
        state.started = state.control.started = time.perf_counter()
        try:
            output = approach.run(task_prompt(state.task.schema, state.case, config.answer_form), tools, config)
        except Exception as exc:  # a failing run is recorded, never fatal
            failure = failure_of(exc, approach.failure_categories)
        wall = time.perf_counter() - state.started
    if user_code is not None:
        user_code.close()
        if user_code.lost is not None:  # the server died under this run: that, not what the agent did next, ended it
            output, failure = None, failure_of(user_code.lost)
    return state.record(wall, output, failure)


def run_once(
    task: Task,
    approach: str,
    run: int,
    lm: dspy.LM,
    config: ApproachConfig,
    case: Case | None = None,
    sandboxes: SandboxSupply | None = None,
    tool_settings: ToolSettings = ToolSettings(),
) -> tuple[RunRecord, dict]:
    """One uncached run of one approach, in this thread and without a time budget; returns its record and trace.

    With `sandboxes`, a warm interpreter is reserved before the clock starts, and the boot
    figures of the interpreters the run used are recorded beside its wall time.
    """
    case = case or task.full_case()
    return _execute(_RunState(task, ModelRun(lm.model, lm), approach, run, case), config, sandboxes, tool_settings)


class _Scheduler:
    """Who runs now: each model's queue of runs, the runs under way, and the clock each one is held to.

    Runs of different models go side by side, each model up to its own `concurrency`. A run still going
    after `timeout` seconds is recorded as it stood and stopped; its thread's late result is ignored."""

    def __init__(self, task: Task, jobs: dict[str, deque], models: list[ModelRun], case: Case,
                 case_label: str | None, timeout: float | None) -> None:
        self.task, self.jobs, self.models, self.case, self.case_label = task, jobs, models, case, case_label
        self.timeout = timeout
        self.active: dict[tuple[str, str, int], _RunState] = {}
        self.finished: queue.Queue = queue.Queue()

    @property
    def busy(self) -> bool:
        return any(self.jobs.values()) or bool(self.active)

    def start_due(self, body: Callable[[_RunState], tuple[RunRecord, dict]]) -> None:
        """Start each model's next runs while it has room."""
        for model in self.models:
            queued = self.jobs[model.name]
            while queued and sum(k[0] == model.name for k in self.active) < model.concurrency:
                state = _RunState(self.task, *queued.popleft(), self.case, self.case_label)
                state.control.budget_s = self.timeout
                self.active[(model.name, state.approach, state.run)] = state
                threading.Thread(target=self._work, args=(state, body), daemon=True,
                                 name=f"run-{model.name}-{state.approach}-{state.run}").start()

    def _work(self, state: _RunState, body: Callable[[_RunState], tuple[RunRecord, dict]]) -> None:
        try:
            result = body(state)
        except BaseException as exc:  # a bug in the harness itself: still a recorded run
            result = state.record(time.perf_counter() - (state.started or time.perf_counter()), failure=failure_of(exc))
        self.finished.put(((state.model.name, state.approach, state.run), result))

    def next_result(self) -> tuple[RunRecord, dict] | None:
        """A run that ended, waiting at most until the next budget runs out (or half a second)."""
        wait = 0.5
        starts = [s.started for s in self.active.values() if s.started is not None]
        if self.timeout is not None and starts:
            wait = max(0.01, min(wait, min(starts) + self.timeout - time.perf_counter()))
        try:
            key, result = self.finished.get(timeout=wait)
        except queue.Empty:
            return None
        return result if self.active.pop(key, None) is not None else None  # a run already cut is ignored

    def cut_overdue(self) -> list[tuple[RunRecord, dict]]:
        """Runs past their budget: each recorded as it stood at the budget, before the stop ends its cell or call."""
        if self.timeout is None:
            return []
        now, cut = time.perf_counter(), []
        for key, state in list(self.active.items()):
            if state.started is not None and now - state.started >= self.timeout:
                del self.active[key]
                cut.append(state.record(now - state.started, failure=failure_of(
                    RunCancelled(f"the run passed its time budget of {self.timeout:g} s (--timeout)"))))
                if state.model.server is not None and state.control.lm_call_in_flight_s() is not None:
                    state.model.server.abandoned(state.label)
                state.control.cancel()
        return cut

    def stop_all(self) -> None:
        for state in self.active.values():
            state.control.cancel()

    def views(self, runs: int) -> list[RunView]:
        return [s.view(runs) for s in self.active.values() if s.started is not None]


def run_benchmark(
    task: Task,
    approaches: list[str],
    runs: int,
    models: list[ModelRun],
    config: ApproachConfig,
    on_record: Callable[[RunRecord, dict], None] = lambda record, trace: None,
    case: Case | None = None,
    case_label: str | None = None,
    sandboxes: SandboxSupply | None = None,
    timeout: float | None = None,
    skip: frozenset[tuple[str, str, int]] = frozenset(),
    expect_sandboxes: bool = True,
    watch: Callable[[list[RunView]], None] | None = None,
    tool_settings: ToolSettings = ToolSettings(),
) -> tuple[list[RunRecord], bool]:
    """Every model x approach `runs` times, except the (model, approach, run) triples in `skip`.

    Runs of different models go side by side, each model up to its own `concurrency`, so a
    matrix takes about as long as its slowest model, not the sum.

    Returns the records finished here and whether Ctrl-C cut the loop short. A run still
    going after `timeout` seconds of wall time is recorded as `timeout` and stopped. `watch`
    is shown the active runs about twice a second (live progress).
    """
    jobs = {m.name: deque((m, a, r) for a in approaches for r in range(1, runs + 1) if (m.name, a, r) not in skip)
            for m in models}
    if sandboxes is not None and expect_sandboxes:  # a caller running several batches sets the total itself
        sandboxes.expect(sum(REGISTRY[a].needs_sandbox for queued in jobs.values() for _, a, _ in queued))
    scheduler = _Scheduler(task, jobs, models, case or task.full_case(), case_label, timeout)
    records: list[RunRecord] = []

    def emit(result: tuple[RunRecord, dict]) -> None:
        records.append(result[0])
        on_record(*result)

    try:
        while scheduler.busy:
            scheduler.start_due(lambda state: _execute(state, config, sandboxes, tool_settings))
            if watch is not None:
                watch(scheduler.views(runs))
            if (result := scheduler.next_result()) is not None:
                emit(result)
            for result in scheduler.cut_overdue():
                emit(result)
    except KeyboardInterrupt:
        hold_interrupts()  # a second Ctrl-C must not cut the stopping, the summary or the page
        scheduler.stop_all()
        return records, True
    return records, False
