"""What a risk assessment claims, and how right it is against the database's ground truth.

Coverage says which checks were made; this says whether the report got the answer right:
the interactions and contraindications it lists (recall and precision), whether it gave each
interaction its database severity, and how many pairs it called free of interactions without
ever having looked them up. That last count is the failure that matters most in a report like
this: a confident "no interaction" that nobody checked.
"""

from __future__ import annotations

from typing import Literal

import pydantic

from rlmbench.ledger import ToolCall, pairs_called
from tools import Scenario, normalise_name, required_condition_checks, required_pairs

RiskLevel = Literal["low", "moderate", "high"]
FINDING_FIELDS = ("interactions", "contraindications", "pairs_without_interaction", "overall_risk")


class ReportedInteraction(pydantic.BaseModel):
    drug_a: str
    drug_b: str
    severity: Literal["major", "moderate", "minor"]


class ReportedContraindication(pydantic.BaseModel):
    drug: str
    condition: str


class DrugPair(pydantic.BaseModel):
    drug_a: str
    drug_b: str


def expected_risk(scenario: Scenario, medications: list[str], conditions: list[str]) -> RiskLevel:
    """The rule the README states: high with a major interaction or a contraindication, moderate with a moderate one."""
    severities = {found.severity for a, b in required_pairs(medications) if (found := scenario.interaction(a, b))}
    contraindicated = any(scenario.contraindication(d, c) for d, c in required_condition_checks(medications, conditions))
    if "major" in severities or contraindicated:
        return "high"
    return "moderate" if "moderate" in severities else "low"


def _as_dict(item) -> dict:
    if isinstance(item, pydantic.BaseModel):
        return item.model_dump()
    return item if isinstance(item, dict) else {}


def _pair(item) -> tuple[str, str]:
    d = _as_dict(item)
    return tuple(sorted((normalise_name(d.get("drug_a", "")), normalise_name(d.get("drug_b", "")))))


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


def score_findings(findings: dict, scenario: Scenario, medications: list[str], conditions: list[str],
                   calls: list[ToolCall]) -> dict:
    """Per-run accuracy of the structured report. A ratio with nothing to divide by is None, not a made-up 1.0."""
    true_pairs = {(a, b): found.severity for a, b in required_pairs(medications)
                  if (found := scenario.interaction(a, b))}
    true_contra = {(d, c) for d, c in required_condition_checks(medications, conditions)
                   if scenario.contraindication(d, c)}

    reported = {}
    for item in findings.get("interactions") or []:
        reported[_pair(item)] = str(_as_dict(item).get("severity", "")).lower()
    reported_contra = {(normalise_name(_as_dict(i).get("drug", "")), normalise_name(_as_dict(i).get("condition", "")))
                       for i in findings.get("contraindications") or []}
    cleared = {_pair(i) for i in findings.get("pairs_without_interaction") or []}
    checked = pairs_called(calls)

    found = set(reported) & set(true_pairs)
    contra_found = reported_contra & true_contra
    return {
        "interactions_true": len(true_pairs),
        "interactions_reported": len(reported),
        "interaction_recall": _ratio(len(found), len(true_pairs)),
        "interaction_precision": _ratio(len(found), len(reported)),
        "severity_agreement": _ratio(sum(reported[p] == true_pairs[p] for p in found), len(found)),
        "contraindications_true": len(true_contra),
        "contraindications_reported": len(reported_contra),
        "contraindication_recall": _ratio(len(contra_found), len(true_contra)),
        "contraindication_precision": _ratio(len(contra_found), len(reported_contra)),
        "pairs_claimed_safe": len(cleared),
        "claimed_safe_never_checked": len(cleared - checked),
        "claimed_safe_but_interacting": len(cleared & set(true_pairs)),
        "overall_risk": findings.get("overall_risk"),
        "expected_risk": expected_risk(scenario, medications, conditions),
    }
