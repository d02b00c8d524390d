"""What the tools were really asked, and how much of the required work that covers.

Coverage is counted from the calls the tools received, never from what a model says it did:
a report that claims a pair is safe does not count unless that pair was looked up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from tools import required_condition_checks, required_pairs


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


def pairs_called(calls: list[ToolCall]) -> set[tuple[str, str]]:
    return {
        tuple(sorted((c.args["drug_a"], c.args["drug_b"])))
        for c in calls
        if c.tool == "check_drug_interaction" and c.valid
    }


def condition_checks_called(calls: list[ToolCall]) -> set[tuple[str, str]]:
    return {(c.args["drug"], c.args["condition"]) for c in calls if c.tool == "check_contraindication" and c.valid}


@dataclass
class Coverage:
    pairs_required: int
    pairs_covered: int
    conditions_required: int
    conditions_covered: int
    missed_pairs: list[tuple[str, str]] = field(default_factory=list)
    missed_conditions: list[tuple[str, str]] = field(default_factory=list)
    tool_calls: int = 0
    invalid_tool_calls: int = 0

    @property
    def required(self) -> int:
        return self.pairs_required + self.conditions_required

    @property
    def covered(self) -> int:
        return self.pairs_covered + self.conditions_covered

    @property
    def fraction(self) -> float:
        return self.covered / self.required if self.required else 1.0

    def to_dict(self) -> dict:
        return {
            "pairs_required": self.pairs_required,
            "pairs_covered": self.pairs_covered,
            "conditions_required": self.conditions_required,
            "conditions_covered": self.conditions_covered,
            "missed_pairs": [list(p) for p in self.missed_pairs],
            "missed_conditions": [list(p) for p in self.missed_conditions],
            "tool_calls": self.tool_calls,
            "invalid_tool_calls": self.invalid_tool_calls,
        }


def measure_coverage(calls: list[ToolCall], medications: list[str], conditions: list[str]) -> Coverage:
    """Set intersection of the required checks with the valid checks the tools actually received."""
    pairs = required_pairs(medications)
    checks = required_condition_checks(medications, conditions)
    called_pairs = pairs_called(calls)
    called_checks = condition_checks_called(calls)
    return Coverage(
        pairs_required=len(pairs),
        pairs_covered=sum(p in called_pairs for p in pairs),
        conditions_required=len(checks),
        conditions_covered=sum(c in called_checks for c in checks),
        missed_pairs=[p for p in pairs if p not in called_pairs],
        missed_conditions=[c for c in checks if c not in called_checks],
        tool_calls=len(calls),
        invalid_tool_calls=sum(not c.valid for c in calls),
    )
