"""Which required checks one run made, as a matrix a reader takes in at a glance.

A pair tool's checks are the lower triangle of its list against itself; a cross tool's, its first
list against its second; an attribute tool's, one row. Each cell says whether the run made that
check (from the record's coverage, the same figure the summary counts), whether the ground truth
holds a finding there and of which severity, and whether the run's answer reported it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlmbench.results.records import RunRecord
from rlmbench.scoring.findings import ToolFindings
from rlmbench.tasks.task import Case, CheckKey, Task, ToolSpec, check_key, check_scope, required_follow_ups


@dataclass(frozen=True)
class Cell:
    checked: bool
    severity: str | None
    """The ground truth's finding here; None for no finding, or when the ground truth is not at hand."""
    reported: bool | None
    """The answer named this check as a finding; None when the run has no answer for this tool."""
    lost: bool = False
    """A call of this check failed transiently and no later call answered it."""
    follow_up: str | None = None
    """This finding required a follow-up: `made` or `missed`; None where none was required (or known)."""


@dataclass(frozen=True)
class Grid:
    tool: str
    scope: str
    """What the checks range over, in the task's words ('medications pairs')."""
    rows: list[str]
    cols: list[str]
    cells: list[list[Cell | None]]
    """cells[row][col]; None where no check exists (the upper triangle of a pair tool)."""

    @property
    def size(self) -> int:
        return sum(c is not None for row in self.cells for c in row)


def _layout(tool: ToolSpec, inputs: dict[str, list[str]]) -> tuple[list[str], list[str], list[list[CheckKey | None]]]:
    """Row labels, column labels and the check key of every cell, in the case's own item order."""
    def key(*values: str) -> CheckKey:
        return check_key(tool, dict(zip(tool.args, values)))

    first = inputs[tool.lists[0]]
    if tool.kind == "pair":
        rows, cols = first[1:], first[:-1]
        return rows, cols, [[key(cols[j], row) if j <= i else None for j in range(len(cols))]
                            for i, row in enumerate(rows)]
    if tool.kind == "cross":
        second = inputs[tool.lists[1]]
        return first, second, [[key(a, b) for b in second] for a in first]
    return [tool.name], first, [[key(a) for a in first]]


def run_grids(record: RunRecord, task: Task, case: Case, truth_known: bool,
              findings: list[ToolFindings] | None) -> list[Grid]:
    """One grid per tool with required checks. `truth_known` is False when the task file at hand is not the
    one the run used: then no cell claims a finding."""
    reported = {f.tool.name: set(f.reported) for f in findings or []}
    lost = {(tool, *key) for tool, *key in (record.coverage.recovery.lost if record.coverage.recovery else [])}
    follow_ups = _follow_up_states(record, task, case) if truth_known else {}
    grids = []
    for coverage in record.coverage.tools:
        tool = task.schema.tool(coverage.tool)
        if tool is None:
            continue
        missed = {tuple(k) for k in coverage.missed}
        rows, cols, keys = _layout(tool, case.inputs)

        def cell(k: CheckKey | None) -> Cell | None:
            if k is None:
                return None
            entry = task.finding(tool.name, k) if truth_known else None
            mine = reported.get(tool.name)
            return Cell(checked=k not in missed, severity=entry.severity if entry else None,
                        reported=None if mine is None else k in mine, lost=(tool.name, *k) in lost,
                        follow_up=follow_ups.get((tool.name, k)))

        grids.append(Grid(tool.name, check_scope(tool), rows, cols, [[cell(k) for k in row] for row in keys]))
    return grids


def _follow_up_states(record: RunRecord, task: Task, case: Case) -> dict[tuple[str, CheckKey], str]:
    """(the finding's tool, key) -> `made` or `missed`, for each follow-up the case required."""
    missed = {(f.tool, tuple(k)) for f in record.coverage.follow_ups or [] for k in f.missed}
    return {(task.schema.tool(c.tool).follow_up.after, c.key): "missed" if (c.tool, c.key) in missed else "made"
            for c in required_follow_ups(task, case)} if record.coverage.follow_ups is not None else {}


def key_label(key: CheckKey) -> str:
    """A check as a reader names it: 'warfarin + aspirin'."""
    return " + ".join(key)

