"""How right an answer is against the task's ground truth, for any task.

Coverage says which checks were made; this says whether the answer got them right: for each
tool with findings, the findings it lists (recall and precision), whether it gave each one
its true severity, and how many keys it called clear without ever having looked them up.
That last count is the failure that matters most in a report like this: a confident "clear"
that nobody checked.
"""

from __future__ import annotations

from dataclasses import dataclass

import pydantic

from rlmbench.results.records import AnswerScore, ToolScore
from rlmbench.scoring.ledger import ToolCall, checks_made
from rlmbench.tasks.task import (
    RISK_FIELD,
    Case,
    CheckKey,
    Task,
    ToolSpec,
    check_key,
    expected_risk,
    required_checks,
    required_follow_ups,
)


def _as_dict(item) -> dict:
    if isinstance(item, pydantic.BaseModel):
        return item.model_dump()
    return item if isinstance(item, dict) else {}


def _key(task: Task, tool, item) -> tuple:
    """The check an answer's item names, with the task's aliases resolved as the tools resolve them."""
    data = _as_dict(item)
    return check_key(tool, {a: task.resolve(data.get(a, "")) for a in tool.args})


@dataclass(frozen=True)
class ToolFindings:
    """One tool's findings as keys: the ground truth among the required checks against what the answer
    reported, so a report can name each key that a score only counts."""

    tool: ToolSpec
    truth: dict[CheckKey, str]
    """True finding -> its severity, among the case's required checks."""
    reported: dict[CheckKey, str]
    """Reported finding -> the severity the answer gave (lower case; '' when none)."""
    cleared: set[CheckKey] | None
    """Keys the answer listed as clear; None when the task asks for no clear list for this tool."""
    made: set[CheckKey]
    """Keys the tool ledger shows were looked up with this tool."""

    @property
    def found(self) -> set[CheckKey]:
        return set(self.reported) & set(self.truth)

    @property
    def unchecked(self) -> set[CheckKey]:
        """Reported without the tool ever having been asked: not evidence, whatever the ground truth says."""
        return set(self.reported) - self.made


def answer_findings(answer: dict, task: Task, case: Case, calls: list[ToolCall]) -> list[ToolFindings]:
    """The answer's findings against the ground truth, one entry per tool with findings."""
    checks = required_checks(task.schema, case.inputs)
    made = checks_made(task.schema, calls)
    out = []
    for tool in task.schema.finding_tools:
        truth = {c.key: found.severity for c in checks if c.tool == tool.name
                 and (found := task.finding(tool.name, c.key))}
        reported: dict = {}
        for item in answer.get(tool.answer_field) or []:
            reported[_key(task, tool, item)] = str(_as_dict(item).get("severity", "")).lower()
        cleared = ({_key(task, tool, item) for item in answer.get(tool.clear_field) or []}
                   if tool.clear_field else None)
        out.append(ToolFindings(tool, truth, reported, cleared, {k for t, k in made if t == tool.name}))
    return out


def score_answer(answer: dict, task: Task, case: Case, calls: list[ToolCall]) -> AnswerScore:
    """Per-run accuracy of the typed answer, one ToolScore per tool with findings."""
    scores = []
    for f in answer_findings(answer, task, case, calls):
        tool, found = f.tool, f.found
        score = ToolScore(tool=tool.name, answer_field=tool.answer_field, true=len(f.truth),
                          reported=len(f.reported), found=len(found), reported_unchecked=len(f.unchecked))
        if tool.reports_severity:
            score.severity_scored = len(found)
            score.severity_agreed = sum(f.reported[k] == f.truth[k] for k in found)
        if f.cleared is not None:
            score.claimed_clear = len(f.cleared)
            score.claimed_clear_never_checked = len(f.cleared - f.made)
            score.claimed_clear_but_finding = len(f.cleared & set(f.truth))
        scores.append(score)
    risk = answer.get(RISK_FIELD)
    required, exact = values_exact(answer, task, case)
    return AnswerScore(tools=scores, overall_risk=None if risk is None else str(risk),
                       expected_risk=expected_risk(task, case), values_required=required, values_exact=exact)


def values_exact(answer: dict, task: Task, case: Case) -> tuple[int | None, int | None]:
    """(required follow-up values, of those reproduced exactly) — the state a run kept from tool to answer; (None,
    None) for a task without follow-ups."""
    if not task.schema.follow_up_tools:
        return None, None
    truth = {(c.tool, c.key): task.data.follow_ups[c.tool][c.key] for c in required_follow_ups(task, case)}
    given = {}
    for tool in task.schema.follow_up_tools:
        for item in answer.get(tool.answer_field) or []:
            given[(tool.name, _key(task, tool, item))] = str(_as_dict(item).get("value", "")).strip()
    return len(truth), sum(given.get(check) == value.strip() for check, value in truth.items())
