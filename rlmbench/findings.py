"""How right an answer is against the task's ground truth, for any task.

Coverage says which checks were made; this says whether the answer got them right: for each
tool with findings, the findings it lists (recall and precision), whether it gave each one
its true severity, and how many keys it called clear without ever having looked them up.
That last count is the failure that matters most in a report like this: a confident "clear"
that nobody checked.
"""

from __future__ import annotations

import pydantic

from rlmbench.ledger import ToolCall, checks_made
from rlmbench.records import AnswerScore, ToolScore
from rlmbench.signatures import RISK_FIELD
from rlmbench.task import Case, Task, check_key, expected_risk, normalised_inputs, required_checks


def _as_dict(item) -> dict:
    if isinstance(item, pydantic.BaseModel):
        return item.model_dump()
    return item if isinstance(item, dict) else {}


def _key(task: Task, tool, item) -> tuple:
    """The check an answer's item names, with the task's aliases resolved as the tools resolve them."""
    data = _as_dict(item)
    return check_key(tool, {a: task.resolve(data.get(a, "")) for a in tool.args})


def score_answer(answer: dict, task: Task, case: Case, calls: list[ToolCall]) -> AnswerScore:
    """Per-run accuracy of the typed answer, one ToolScore per tool with findings."""
    checks = required_checks(task.schema, normalised_inputs(case))
    made = checks_made(task.schema, calls)
    scores = []
    for tool in task.schema.finding_tools:
        truth = {c.key: found.severity for c in checks if c.tool == tool.name
                 and (found := task.finding(tool.name, c.key))}
        reported: dict = {}
        for item in answer.get(tool.answer_field) or []:
            reported[_key(task, tool, item)] = str(_as_dict(item).get("severity", "")).lower()
        found = set(reported) & set(truth)
        score = ToolScore(tool=tool.name, answer_field=tool.answer_field, true=len(truth), reported=len(reported),
                          found=len(found), reported_unchecked=sum((tool.name, k) not in made for k in reported))
        if tool.reports_severity:
            score.severity_scored = len(found)
            score.severity_agreed = sum(reported[k] == truth[k] for k in found)
        if tool.clear_field:
            cleared = {_key(task, tool, item) for item in answer.get(tool.clear_field) or []}
            score.claimed_clear = len(cleared)
            score.claimed_clear_never_checked = sum((tool.name, k) not in made for k in cleared)
            score.claimed_clear_but_finding = len(cleared & set(truth))
        scores.append(score)
    risk = answer.get(RISK_FIELD)
    return AnswerScore(tools=scores, overall_risk=None if risk is None else str(risk),
                       expected_risk=expected_risk(task, case))
