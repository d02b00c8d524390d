"""Scoring the typed answer: recall, precision, severity, and "claimed clear but never checked"."""

import json

import dspy

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.models import build_lm
from rlmbench.lm.oracle.server import OpenAICompatibleServer
from rlmbench.lm.settings import ModelSettings
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.scoring.findings import score_answer
from rlmbench.scoring.ledger import ToolCall
from rlmbench.tasks.task import Case, expected_risk, required_checks
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")
CASE = DRUGS.full_case()
PAIRS = [c for c in required_checks(DRUGS.schema, CASE.inputs) if c.tool == "check_drug_interaction"]


def _checked(checks):
    return [ToolCall(c.tool, c.args, "answered") for c in checks]


def _truth():
    interactions, clear = [], []
    for check in PAIRS:
        hit = DRUGS.finding(check.tool, check.key)
        if hit:
            interactions.append({**check.args, "severity": hit.severity})
        else:
            clear.append(check.args)
    contra = [{"drug": d, "condition": c} for (d, c) in DRUGS.data.findings["check_contraindication"]]
    return {"interactions": interactions, "contraindications": contra, "pairs_without_interaction": clear,
            "overall_risk": "high"}


def test_a_complete_correct_answer_scores_full_marks():
    score = score_answer(_truth(), DRUGS, CASE, _checked(PAIRS))
    interactions, contraindications = score.tools
    assert interactions.recall == interactions.precision == score.severity_agreement == 1.0
    assert contraindications.recall == contraindications.precision == 1.0
    assert score.claimed_clear_never_checked == 0 and score.overall_risk == score.expected_risk == "high"


def test_missed_wrong_and_invented_findings_lower_the_right_figures():
    answer = _truth()
    answer["interactions"].pop(0)  # missed
    first = answer["interactions"][0]
    answer["interactions"][0] = {**first, "severity": "major" if first["severity"] == "minor" else "minor"}  # wrong
    clear = answer["pairs_without_interaction"][0]
    answer["interactions"].append({"drug_a": clear["drug_b"].title(), "drug_b": clear["drug_a"],
                                   "severity": "minor"})  # invented, in another order and case
    answer["contraindications"] = answer["contraindications"][:1]
    interactions, contraindications = score_answer(answer, DRUGS, CASE, _checked(PAIRS)).tools
    assert interactions.recall == 7 / 8 and interactions.precision == 7 / 8
    assert interactions.severity_agreed / interactions.severity_scored == 6 / 7
    assert contraindications.recall == 0.5 and contraindications.precision == 1.0


def test_keys_claimed_clear_without_a_lookup_are_counted():
    answer = _truth()
    answer["pairs_without_interaction"].append({"drug_a": "warfarin", "drug_b": "aspirin"})  # interacts
    score = score_answer(answer, DRUGS, CASE, _checked(PAIRS[:5]))
    checked = {c.key for c in PAIRS[:5]}
    unchecked_clear = {tuple(sorted(p.values())) for p in answer["pairs_without_interaction"]} - checked
    interactions = score.of("check_drug_interaction")
    assert interactions.claimed_clear_never_checked == len(unchecked_clear) > 0
    assert interactions.claimed_clear_but_finding == 1
    assert score.of("check_contraindication").claimed_clear is None  # the task asks for no clear list there


def test_nothing_to_divide_by_is_none_not_a_perfect_score():
    case = Case({"medications": ["metformin", "warfarin"], "conditions": ["heart_failure"]})
    score = score_answer({"interactions": [], "contraindications": []}, DRUGS, case, [])
    interactions = score.of("check_drug_interaction")
    assert interactions.true == 0 and interactions.recall is None and interactions.precision is None
    assert score.severity_agreement is None
    assert expected_risk(DRUGS, case) == "low"


def test_the_risk_rule_is_the_task_files():
    test_matrix = load_task("test_matrix")
    rule = test_matrix.schema.risk
    assert rule.level(["minor", "major"], test_matrix.schema.severities) == "caution"
    assert rule.level([], test_matrix.schema.severities) == "go"
    assert rule.level(["blocker"], test_matrix.schema.severities) == "no_go"


def _everything_is_fine(body, system, user):
    if "`pairs_without_interaction`" in system and "`next_tool_name`" not in system:  # ReAct's final answer
        pairs = [c.args for c in PAIRS]
        return ("[[ ## reasoning ## ]]\nAll fine.\n\n[[ ## risk_assessment ## ]]\nNo problems.\n\n"
                "[[ ## interactions ## ]]\n[]\n\n[[ ## contraindications ## ]]\n[]\n\n"
                f"[[ ## pairs_without_interaction ## ]]\n{json.dumps(pairs)}\n\n"
                "[[ ## overall_risk ## ]]\nlow\n\n[[ ## completed ## ]]")
    return None


def test_a_report_that_clears_pairs_it_never_checked_is_caught_end_to_end():
    with OpenAICompatibleServer(_everything_is_fine) as server:
        lm = build_lm(ModelSettings(model="openai/oracle", api_base=server.url, retries=0), DRUGS.schema)
        with dspy.context(lm=lm, track_usage=True):
            (record,), _ = run_benchmark(DRUGS, ["react"], 1, [ModelRun("m", lm)], ApproachConfig(react_max_iters=3))
    assert record.ok and record.diagnostics.hit_step_limit is True and record.coverage.of("check_drug_interaction").covered == 3
    interactions = record.answer_score.of("check_drug_interaction")
    assert interactions.claimed_clear == 21 and interactions.claimed_clear_never_checked == 18
    assert interactions.recall == 0.0 and record.answer_score.overall_risk == "low" != record.answer_score.expected_risk


def test_an_answer_may_name_an_item_by_the_alias_the_tools_accept():
    answer = _truth()
    answer["contraindications"] = [{"drug": "Metformin", "condition": "CKD"}, {"drug": "KCl", "condition": "ckd"}]
    contraindications = score_answer(answer, DRUGS, CASE, _checked(PAIRS)).of("check_contraindication")
    assert contraindications.found == contraindications.true == 2 and contraindications.precision == 1.0


def test_follow_ups_score_exact_values_and_count_wasted_calls():
    from rlmbench.scoring.findings import score_answer
    from rlmbench.scoring.ledger import ToolLedger, measure_coverage
    from rlmbench.tasks.behaviour import Latency, ToolSettings
    from rlmbench.tasks.task_file import load_task
    from rlmbench.tasks.tools import make_tools

    task = load_task("drugs_realistic")
    ledger = ToolLedger()
    tools = {t.__name__: t for t in make_tools(task, ledger.record, ToolSettings(latency=Latency(), failure_rate=0))}
    kept = tools["get_management"]("warfarin", "amiodarone")["value"]
    tools["get_management"]("metformin", "aspirin")  # no finding behind it: wasted
    coverage = measure_coverage(task, task.full_case(), ledger.calls)
    (follow,) = coverage.follow_ups
    assert (follow.required, follow.made, follow.wasted, len(follow.missed)) == (4, 1, 1, 3)
    assert not coverage.all_made
    answer = {"management": [{"drug_a": "Amiodarone", "drug_b": "warfarin", "value": f" {kept} "},
                             {"drug_a": "warfarin", "drug_b": "aspirin", "value": "avoid-combination"}]}
    score = score_answer(answer, task, task.full_case(), ledger.calls)
    assert (score.values_required, score.values_exact) == (4, 1)  # case differs: not exact
    assert score_answer({}, load_task("drugs"), task.full_case(), []).values_required is None  # not exercised
