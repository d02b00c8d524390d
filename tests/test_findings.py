"""Scoring the structured answer: recall, precision, severity, and "claimed safe but never checked"."""

import dspy

from openai_server import OpenAICompatibleServer
from rlmbench.approaches import ApproachConfig, Case
from rlmbench.findings import expected_risk, score_findings
from rlmbench.ledger import ToolCall
from rlmbench.models import ModelSettings, build_lm
from rlmbench.runner import run_benchmark
from tools import DEFAULT_SCENARIO, required_pairs

MEDS = list(DEFAULT_SCENARIO.medications)
CONDS = list(DEFAULT_SCENARIO.conditions)


def _checked(pairs):
    return [ToolCall("check_drug_interaction", {"drug_a": a, "drug_b": b}, True, 0.0) for a, b in pairs]


def _truth():
    interactions, clear = [], []
    for a, b in required_pairs(MEDS):
        hit = DEFAULT_SCENARIO.interaction(a, b)
        if hit:
            interactions.append({"drug_a": a, "drug_b": b, "severity": hit.severity})
        else:
            clear.append({"drug_a": a, "drug_b": b})
    contra = [{"drug": d, "condition": c} for (d, c) in DEFAULT_SCENARIO.contraindications]
    return {"interactions": interactions, "contraindications": contra, "pairs_without_interaction": clear,
            "overall_risk": "high"}


def test_a_complete_correct_answer_scores_full_marks():
    score = score_findings(_truth(), DEFAULT_SCENARIO, MEDS, CONDS, _checked(required_pairs(MEDS)))
    assert score["interaction_recall"] == score["interaction_precision"] == score["severity_agreement"] == 1.0
    assert score["contraindication_recall"] == score["contraindication_precision"] == 1.0
    assert score["claimed_safe_never_checked"] == 0 and score["overall_risk"] == score["expected_risk"]


def test_missed_wrong_and_invented_findings_lower_the_right_figures():
    answer = _truth()
    answer["interactions"].pop(0)  # missed
    first = answer["interactions"][0]
    answer["interactions"][0] = {**first, "severity": "major" if first["severity"] == "minor" else "minor"}  # wrong
    clear = answer["pairs_without_interaction"][0]
    answer["interactions"].append({"drug_a": clear["drug_b"].title(), "drug_b": clear["drug_a"],
                                   "severity": "minor"})  # invented, in another order and case
    answer["contraindications"] = answer["contraindications"][:1]
    score = score_findings(answer, DEFAULT_SCENARIO, MEDS, CONDS, _checked(required_pairs(MEDS)))
    assert score["interaction_recall"] == 7 / 8
    assert score["interaction_precision"] == 7 / 8
    assert score["severity_agreement"] == 6 / 7
    assert score["contraindication_recall"] == 0.5 and score["contraindication_precision"] == 1.0


def test_pairs_claimed_safe_without_a_lookup_are_counted():
    answer = _truth()
    answer["pairs_without_interaction"].append({"drug_a": "warfarin", "drug_b": "aspirin"})  # interacts
    checked = _checked(required_pairs(MEDS)[:5])
    score = score_findings(answer, DEFAULT_SCENARIO, MEDS, CONDS, checked)
    unchecked_clear = {tuple(sorted((p["drug_a"], p["drug_b"]))) for p in answer["pairs_without_interaction"]} \
        - {tuple(sorted((c.args["drug_a"], c.args["drug_b"]))) for c in checked}
    assert score["claimed_safe_never_checked"] == len(unchecked_clear) > 0
    assert score["claimed_safe_but_interacting"] == 1


def test_nothing_to_divide_by_is_none_not_a_perfect_score():
    score = score_findings({"interactions": [], "contraindications": []}, DEFAULT_SCENARIO,
                           ["metformin", "warfarin"], ["heart_failure"], [])
    assert score["interactions_true"] == 0 and score["interaction_recall"] is None
    assert score["interaction_precision"] is None and score["severity_agreement"] is None
    assert expected_risk(DEFAULT_SCENARIO, ["metformin", "warfarin"], ["heart_failure"]) == "low"


def _everything_is_fine(body, system, user):
    if "`pairs_without_interaction`" in system and "`next_tool_name`" not in system:  # ReAct's final answer
        pairs = [{"drug_a": a, "drug_b": b} for a, b in required_pairs(MEDS)]
        import json
        return ("[[ ## reasoning ## ]]\nAll fine.\n\n[[ ## risk_assessment ## ]]\nNo problems.\n\n"
                "[[ ## interactions ## ]]\n[]\n\n[[ ## contraindications ## ]]\n[]\n\n"
                f"[[ ## pairs_without_interaction ## ]]\n{json.dumps(pairs)}\n\n"
                "[[ ## overall_risk ## ]]\nlow\n\n[[ ## completed ## ]]")
    return None


def test_a_report_that_clears_pairs_it_never_checked_is_caught_end_to_end():
    with OpenAICompatibleServer(_everything_is_fine) as server:
        lm = build_lm(ModelSettings(model="openai/oracle", api_base=server.url, retries=0))
        case = Case(MEDS, CONDS)
        with dspy.context(lm=lm, track_usage=True):
            (record,), _ = run_benchmark(["react"], 1, case, lm, ApproachConfig(react_max_iters=3))
    assert record.ok and record.finished is False and record.coverage["pairs_covered"] == 3
    f = record.findings
    assert f["pairs_claimed_safe"] == 21 and f["claimed_safe_never_checked"] == 18
    assert f["interaction_recall"] == 0.0 and f["overall_risk"] == "low" != f["expected_risk"]
