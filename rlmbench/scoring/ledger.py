"""What the tools were really asked, and how much of the required work that covers.

Coverage is counted from the calls the tools received, never from what a model says it did:
a report that claims a check is clear does not count unless that check was looked up. It is
the set of required checks (tool, key of items as spelled) intersected with the ledger's valid calls.
"""

from __future__ import annotations

import functools
import json
import threading
from dataclasses import dataclass, field
from typing import Any

from rlmbench.lm.tokens import count_tokens
from rlmbench.results.records import Coverage, FollowUpCoverage, Recovery, ToolCoverage
from rlmbench.tasks.task import (
    Case,
    CheckKey,
    Task,
    TaskSchema,
    check_key,
    required_checks,
    required_follow_ups,
)
from rlmbench.tasks.tools import CallOutcome


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict
    """Normalised as the tool resolved them."""
    outcome: CallOutcome
    started: float = 0.0
    """time.perf_counter() when the call reached the tool; 0 when read back from a trace."""
    ended: float = 0.0
    answer: Any = field(default=None, repr=False, compare=False)
    """The tool's answer, kept until the run is recorded (answer_tokens counts it then, outside the clock)."""

    @property
    def valid(self) -> bool:
        """The tool answered the check: only such a call covers it."""
        return self.outcome == "answered"


class ToolLedger:
    """Thread-safe record of tool calls for one run (tools may be called from DSPy worker threads)."""

    def __init__(self) -> None:
        self._calls: list[ToolCall] = []
        self._lock = threading.Lock()

    def record(self, tool: str, args: dict, outcome: CallOutcome, started: float, ended: float,
               answer: Any = None) -> None:
        with self._lock:
            self._calls.append(ToolCall(tool, dict(args), outcome, started, ended, answer))

    @property
    def calls(self) -> list[ToolCall]:
        with self._lock:
            return list(self._calls)


@functools.lru_cache(maxsize=65536)
def _tokens(text: str) -> int:
    return count_tokens(text)


def answer_tokens(call: ToolCall) -> int | None:
    """The size of an answered call's answer in tokens, as a model is shown it (a dict as its JSON); None for a call
    that did not answer. Answers repeat across runs and arms, so each text is counted once."""
    if not call.valid or call.answer is None:
        return None
    return _tokens(call.answer if isinstance(call.answer, str) else json.dumps(call.answer, default=str))


def trace_entry(call: ToolCall, run_started: float, size: int | None) -> dict:
    """A call as the traces file keeps it: `at_s` from the run's start, `duration_s` inside the tool, `size` its
    answer's tokens (answer_tokens)."""
    return {"tool": call.tool, "args": call.args, "valid": call.valid, "outcome": call.outcome,
            "at_s": round(call.started - run_started, 4), "duration_s": round(call.ended - call.started, 4),
            **({"answer_tokens": size} if size is not None else {})}


def call_from_trace(entry: dict) -> ToolCall:
    """A call read back from a trace (files older than `outcome` have `valid` only)."""
    outcome = entry.get("outcome") or ("answered" if entry.get("valid") else "invalid")
    return ToolCall(entry.get("tool", ""), entry.get("args") or {}, outcome)


def checks_made(schema: TaskSchema, calls: list[ToolCall]) -> set[tuple[str, CheckKey]]:
    """(tool, key) of every valid call: what the ledger shows was looked up."""
    made = set()
    for call in calls:
        tool = schema.tool(call.tool)
        if call.valid and tool is not None:
            made.add((call.tool, check_key(tool, call.args)))
    return made


def measure_recovery(schema: TaskSchema, calls: list[ToolCall]) -> Recovery:
    """Failures seen, and for each check that failed whether a later call got its answer."""
    failed: list[tuple[str, CheckKey]] = []
    for call in calls:
        if call.outcome == "transient_failure" and (tool := schema.tool(call.tool)) is not None:
            if (check := (call.tool, check_key(tool, call.args))) not in failed:
                failed.append(check)
    made = checks_made(schema, calls)
    return Recovery(failures=sum(c.outcome == "transient_failure" for c in calls),
                    recovered=sum(check in made for check in failed),
                    lost=[[tool, *key] for tool, key in failed if (tool, key) not in made])


def _follow_ups(task: Task, case: Case, made: set[tuple[str, CheckKey]]) -> list[FollowUpCoverage]:
    required = required_follow_ups(task, case)
    out = []
    for tool in task.schema.follow_up_tools:
        due = {c.key for c in required if c.tool == tool.name}
        answered = {key for name, key in made if name == tool.name}
        out.append(FollowUpCoverage(tool=tool.name, required=len(due), made=len(due & answered),
                                    wasted=len(answered - due), missed=[list(k) for k in sorted(due - answered)]))
    return out


def measure_coverage(task: Task, case: Case, calls: list[ToolCall], failures_injected: bool = False) -> Coverage:
    """Set intersection of the case's required checks with the valid checks the tools actually received; the
    follow-ups its findings require, and with `failures_injected`, the recovery from transient failures."""
    schema = task.schema
    made = checks_made(schema, calls)
    by_tool: dict[str, ToolCoverage] = {t.name: ToolCoverage(tool=t.name, required=0, covered=0)
                                        for t in schema.required_tools}
    for check in required_checks(schema, case.inputs):
        entry = by_tool[check.tool]
        entry.required += 1
        if (check.tool, check.key) in made:
            entry.covered += 1
        else:
            entry.missed.append(list(check.key))
    return Coverage(tools=list(by_tool.values()), tool_calls=len(calls),
                    recovery=measure_recovery(schema, calls) if failures_injected else None,
                    follow_ups=_follow_ups(task, case, made) if schema.follow_up_tools else None)
