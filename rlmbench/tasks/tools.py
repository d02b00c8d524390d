"""The tools every approach shares, built from a task: where a reader finds what the agents can call.

A task file (`rlmbench/tasks/builtin/*.toml`, docs/task-files.md) declares each tool's name, kind,
arguments and docstring; `make_tools(task, record)` turns them into plain Python functions
whose names, signatures and docstrings are what DSPy shows the model. Each reports every call
to `record`, which is how coverage is measured from what was really called.

The built-in tasks hold SIMULATED DATA: invented for a software benchmark, incomplete, and
never to guide a clinical or any other real decision.
"""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import replace
from typing import Any, Callable, Literal

from rlmbench.tasks.behaviour import ToolSettings
from rlmbench.tasks.detail import GENERIC, with_detail
from rlmbench.tasks.task import (
    Case,
    Task,
    TaskSchema,
    ToolSpec,
    check_key,
    required_checks,
    required_follow_ups,
)

CallOutcome = Literal["answered", "invalid", "transient_failure", "tool_error"]
"""answered: the tool gave its answer; invalid: an unknown name or the same item twice, answered with a message;
transient_failure: the call raised ToolUnavailableError (the task's injected failure), and a retry answers;
tool_error: the user's function raised, or their server answered with an error or stopped answering."""

Answerer = Callable[[ToolSpec, dict[str, str]], "str | dict"]
"""How a valid check of a tool backed by the user's code is answered (tasks.backends.RunTools.answer)."""


class ToolUnavailableError(Exception):
    """What a real client raises on a timeout, a 503 or a rate limit: this call failed, and a retry may succeed.

    DSPy turns it into an observation for ReAct and ReActV2, and into an exception inside the sandboxed
    code for the RLM; each agent decides whether to retry."""


class ToolRaisedError(Exception):
    """The user's own tool failed: their function raised, or their server answered with an error or stopped
    answering. The agent is shown it as any tool error, with the original type in the message; the summary counts
    it apart from errors of the agent's own making (bad arguments, no such tool)."""


REACHED_THE_TOOL = (ToolUnavailableError.__name__, ToolRaisedError.__name__)
"""Errors of a call that reached the tool: an injected transient failure, or the user's own tool failing. Such a step
is no tool error of the agent's making; the ledger counts it."""


class FailureDraws:
    """One run's record of which checks have already failed once: a failing check fails on its first call
    only, as a transient fault does, so the agent that retries gets its answer."""

    def __init__(self, settings: ToolSettings) -> None:
        self.settings = settings
        self._failed: set[tuple[str, tuple[str, ...]]] = set()
        self._lock = threading.Lock()  # a batch may call one tool from several threads

    def fails_now(self, tool: ToolSpec, key: tuple[str, ...]) -> bool:
        rate = self.settings.failure_rate_of(tool.transient_failure_rate)
        if not self.settings.fails_first(rate, tool.name, key):
            return False
        with self._lock:
            first = (tool.name, key) not in self._failed
            self._failed.add((tool.name, key))
        return first


def as_invoked(schema: TaskSchema, settings: ToolSettings) -> TaskSchema:
    """The schema with each tool's latency and failure rate as this invocation makes it behave (the task's own,
    or the flags'): what the tools do, and what the oracle plays against."""
    tools = tuple(replace(t, latency=settings.latency_of(t.latency),
                          transient_failure_rate=settings.failure_rate_of(t.transient_failure_rate))
                  for t in schema.tools)
    return replace(schema, tools=tools)


def calls_needed(task: Task, case: Case, settings: ToolSettings) -> int:
    """The tool calls a perfect agent makes for the case: each required check and follow-up once, and once more
    for each drawn to fail on its first call. A step limit sized on this leaves headroom for recovery, not less."""
    checks = required_checks(task.schema, case.inputs) + required_follow_ups(task, case)
    failing = sum(settings.fails_first(settings.failure_rate_of(task.schema.tool(c.tool).transient_failure_rate),
                                       c.tool, c.key) for c in checks)
    return len(checks) + failing


def can_fail(schema: TaskSchema) -> bool:
    """Whether any tool can fail transiently: else recovery is not exercised."""
    return any(tool.transient_failure_rate > 0 for tool in schema.tools)

ToolRecorder = Callable[..., None]
"""Called as record(tool_name, normalised_args, outcome, started, ended, answer=None) when a tool call returns
(times from time.perf_counter; the answer of an answered call, kept by reference: its size is counted after the
run, outside its clock)."""


def _no_record(tool: str, args: dict, outcome: CallOutcome, started: float, ended: float, answer: Any = None) -> None:
    return None


def describe_finding(tool: ToolSpec, args: dict[str, str], severity: str, details: str) -> str:
    """How a tool states a finding: its answer, and the GEPA reference text."""
    return tool.found.format(**args, severity=severity, SEVERITY=severity.upper(), details=details)


def _answer(task: Task, tool: ToolSpec, args: dict[str, str], settings: ToolSettings) -> str | dict:
    """The tool's answer to a valid check, with its detail (tasks.detail) where the tool's answers have a size."""
    key = check_key(tool, args)
    return with_detail(_finding_answer(task, tool, args, key), task.schema.answer_detail or GENERIC, tool.name, key,
                       settings.seed, settings.answer_tokens_of(tool.answer_tokens))


def _finding_answer(task: Task, tool: ToolSpec, args: dict[str, str], key: tuple[str, ...]) -> str | dict:
    """The finding itself: a sentence from the tool's templates, or for `returns = "json"` a dict that names the
    check (`check`: the tool, the arguments) and says `status` found or clear, a finding's `severity` and
    `details`, an attribute's or a follow-up's `value`."""
    found = task.finding(tool.name, key)
    if tool.follow_up is not None:
        value = task.data.follow_ups.get(tool.name, {}).get(key)
    else:
        value = task.data.values.get(tool.name, {}).get(args[tool.args[0]]) if tool.kind == "attribute" else None
    if tool.returns == "json":
        named = {"check": tool.name, **args}
        if found is not None:
            return {**named, "status": "found", "severity": found.severity, "details": found.details}
        return {**named, "value": value} if value else {**named, "status": "clear"}
    if found is not None:
        return describe_finding(tool, args, found.severity, found.details)
    return tool.value.format(**args, value=value) if value else tool.clear.format(**args)


def make_tool(task: Task, tool: ToolSpec, record: ToolRecorder = _no_record,
              draws: FailureDraws | None = None, user_code: Answerer | None = None) -> Callable[..., str | dict]:
    """One tool as a function with a real signature, so DSPy and the sandbox describe it correctly.

    Bad input (an unknown name, the same item twice) is answered with a message listing the
    valid names, never an exception: a tool error must not end a run, and a model can recover
    from a clear message. A call takes its latency (real time from its start, as a service's round
    trip) whether or not its input is valid; a check drawn to fail raises ToolUnavailableError on its first call.
    A tool backed by the user's code gets only valid checks, with the items exactly as the task's lists
    spell them (a name the agent gives is matched to its item first), and what it raises reaches the
    agent as any tool error does.
    """
    draws = draws or FailureDraws(ToolSettings())
    settings = draws.settings
    latency = settings.latency_of(tool.latency)
    valid_items = [set(task.data.items[name]) for name in tool.lists]
    if tool.kind == "pair":
        valid_items = valid_items * 2
    returns = dict if tool.returns == "json" else str
    signature = inspect.Signature(
        [inspect.Parameter(a, inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str) for a in tool.args],
        return_annotation=returns)

    def call(*given, **named) -> str | dict:
        started = time.perf_counter()
        bound = signature.bind(*given, **named)
        raw = {a: bound.arguments[a] for a in tool.args}
        args = {a: task.resolve(v) for a, v in raw.items()}
        key = check_key(tool, args)
        if not latency.none:  # the round trip counts from the call's start: the harness's own work is inside it
            time.sleep(max(0.0, latency.seconds(settings.seed, tool.name, key) - (time.perf_counter() - started)))
        if not _valid(args):
            record(tool.name, args, "invalid", started, time.perf_counter())
            refusal = _refusal(raw, args)
            return {"check": tool.name, "error": refusal} if tool.returns == "json" else refusal
        if draws.fails_now(tool, key):
            record(tool.name, args, "transient_failure", started, time.perf_counter())
            raise ToolUnavailableError(f"{tool.name} is temporarily unavailable (the service did not answer in "
                                       f"time); the call can be retried.")
        try:
            answer = _answer(task, tool, args, settings) if user_code is None else user_code(tool, args)
        except Exception as exc:
            record(tool.name, args, "tool_error", started, time.perf_counter())
            raise ToolRaisedError(f"{type(exc).__name__}: {exc}") from exc
        record(tool.name, args, "answered", started, time.perf_counter(), answer)
        return answer

    def _valid(args: dict) -> bool:
        """Whether the tool answers this input, or refuses it with a message."""
        same = tool.kind == "pair" and args[tool.args[0]] == args[tool.args[1]]
        return all(args[a] in items for a, items in zip(tool.args, valid_items)) and not same

    def _refusal(raw: dict, args: dict) -> str:
        for a, items, list_name in zip(tool.args, valid_items, tool.lists * 2):
            if args[a] not in items:
                entity = task.schema.list(list_name).entity
                return f"Unknown {entity} '{raw[a]}'. Valid {list_name}: {', '.join(sorted(items))}."
        entity = task.schema.list(tool.lists[0]).entity
        return (f"'{raw[tool.args[0]]}' and '{raw[tool.args[1]]}' are the same {entity}; "
                f"give two different items of {tool.lists[0]}.")

    call.__name__ = call.__qualname__ = tool.name
    call.__doc__ = tool.doc
    call.__signature__ = signature
    call.__annotations__ = {**{a: str for a in tool.args}, "return": returns}
    return call


def make_tools(task: Task, record: ToolRecorder = _no_record, settings: ToolSettings = ToolSettings(),
               user_code: Answerer | None = None) -> list[Callable[..., str | dict]]:
    """Every tool of the task, bound to its data (or `user_code`, the run's way to the user's functions and
    server), to one recorder and to the invocation's tool settings; call it once per run, as the checks that
    already failed are the run's own."""
    draws = FailureDraws(settings)
    return [make_tool(task, tool, record, draws, user_code if tool.user_code else None) for tool in task.schema.tools]
