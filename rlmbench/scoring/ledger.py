"""What the tools were really asked, and how much of the required work that covers.

Coverage is counted from the calls the tools received, never from what a model says it did:
a report that claims a check is clear does not count unless that check was looked up. It is
the set of required checks (tool, normalised key) intersected with the ledger's valid calls.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from rlmbench.results.records import Coverage, ToolCoverage
from rlmbench.tasks.task import Case, CheckKey, TaskSchema, check_key, normalised_inputs, required_checks


@dataclass(frozen=True)
class ToolCall:
    tool: str
    args: dict
    valid: bool
    at: float


class ToolLedger:
    """Thread-safe record of tool calls for one run (tools may be called from DSPy worker threads)."""

    def __init__(self) -> None:
        self._calls: list[ToolCall] = []
        self._lock = threading.Lock()

    def record(self, tool: str, args: dict, valid: bool) -> None:
        with self._lock:
            self._calls.append(ToolCall(tool, dict(args), valid, time.perf_counter()))

    @property
    def calls(self) -> list[ToolCall]:
        with self._lock:
            return list(self._calls)


def checks_made(schema: TaskSchema, calls: list[ToolCall]) -> set[tuple[str, CheckKey]]:
    """(tool, key) of every valid call: what the ledger shows was looked up."""
    made = set()
    for call in calls:
        tool = schema.tool(call.tool)
        if call.valid and tool is not None:
            made.add((call.tool, check_key(tool, call.args)))
    return made


def measure_coverage(schema: TaskSchema, case: Case, calls: list[ToolCall]) -> Coverage:
    """Set intersection of the case's required checks with the valid checks the tools actually received."""
    made = checks_made(schema, calls)
    by_tool: dict[str, ToolCoverage] = {t.name: ToolCoverage(tool=t.name, required=0, covered=0)
                                        for t in schema.required_tools}
    for check in required_checks(schema, normalised_inputs(case)):
        entry = by_tool[check.tool]
        entry.required += 1
        if (check.tool, check.key) in made:
            entry.covered += 1
        else:
            entry.missed.append(list(check.key))
    return Coverage(tools=list(by_tool.values()), tool_calls=len(calls))
