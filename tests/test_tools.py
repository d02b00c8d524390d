"""The drug task and its tools: what every approach is measured against."""

import tomllib

import pytest

from rlmbench.scoring.ledger import ToolLedger, measure_coverage
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import Case, required_checks
from rlmbench.tasks.task_file import TASKS_DIR, load_task, parse_task
from rlmbench.tasks.tools import ToolUnavailableError, make_tools

DRUGS = load_task("drugs")


@pytest.fixture
def ledger_and_tools():
    ledger = ToolLedger()
    interaction, contraindication, drug_class = make_tools(DRUGS, ledger.record)
    return ledger, interaction, contraindication, drug_class


def test_drug_task_holds_the_documented_ground_truth():
    interactions = DRUGS.data.findings["check_drug_interaction"]
    severities = sorted(e.severity for e in interactions.values())
    assert severities.count("major") == 4 and severities.count("moderate") == 2 and severities.count("minor") == 2
    assert set(DRUGS.data.findings["check_contraindication"]) == {
        ("metformin", "chronic_kidney_disease"), ("potassium", "chronic_kidney_disease")}
    assert set(DRUGS.data.values["get_drug_class"]) == set(DRUGS.data.items["medications"])
    checks = required_checks(DRUGS.schema, DRUGS.full_case().inputs)
    assert [c.tool for c in checks].count("check_drug_interaction") == 21
    assert [c.tool for c in checks].count("check_contraindication") == 14 and len(checks) == 35


def test_tools_carry_the_task_files_names_arguments_and_docstrings(ledger_and_tools):
    import inspect

    _, interaction, contraindication, drug_class = ledger_and_tools
    assert interaction.__name__ == "check_drug_interaction"
    assert list(inspect.signature(interaction).parameters) == ["drug_a", "drug_b"]
    assert list(inspect.signature(contraindication).parameters) == ["drug", "condition"]
    assert drug_class.__doc__ == "Return the pharmacological class of a drug."


def test_interaction_lookup_is_order_insensitive_and_normalises_names(ledger_and_tools):
    _, interaction, _, _ = ledger_and_tools
    forward = interaction("warfarin", "aspirin")
    assert forward.startswith("MAJOR interaction")
    reverse = interaction(drug_a=" Aspirin ", drug_b="WARFARIN")
    assert reverse.startswith("MAJOR interaction between aspirin and warfarin")
    assert reverse.split(":", 1)[1] == forward.split(":", 1)[1]
    assert interaction("metformin", "aspirin") == "No known interaction between metformin and aspirin in the database."


def test_contraindication_and_class_lookups(ledger_and_tools):
    _, _, contraindication, drug_class = ledger_and_tools
    assert contraindication("Metformin", "Chronic Kidney-Disease").startswith("CONTRAINDICATED")
    assert contraindication("metformin", "CKD").startswith("CONTRAINDICATED")  # an alias from the task file
    assert "No contraindication" in contraindication("aspirin", "heart_failure")
    assert drug_class("lisinopril") == "lisinopril: ACE inhibitor (antihypertensive)"


def test_unknown_names_get_a_message_listing_valid_ones_not_an_exception(ledger_and_tools):
    ledger, interaction, contraindication, drug_class = ledger_and_tools
    message = interaction("warfarin", "unobtainium")
    assert "Unknown drug 'unobtainium'" in message and "warfarin" in message and "metformin" in message
    assert "Valid conditions: chronic_kidney_disease, heart_failure" in contraindication("aspirin", "gout")
    assert drug_class("").startswith("Unknown drug")
    assert "same drug" in interaction("aspirin", "Aspirin")
    assert [c.valid for c in ledger.calls] == [False, False, False, False]


def test_coverage_counts_only_valid_distinct_calls(ledger_and_tools):
    ledger, interaction, contraindication, _ = ledger_and_tools
    case = Case({"medications": ["warfarin", "aspirin", "metformin"], "conditions": ["chronic_kidney_disease"]})
    interaction("warfarin", "aspirin")
    interaction("aspirin", "warfarin")  # the same pair again
    interaction("metformin", "nope")  # invalid: does not count
    contraindication("metformin", "ckd")
    coverage = measure_coverage(DRUGS, case, ledger.calls)
    pairs, conditions = coverage.tools
    assert (pairs.covered, pairs.required) == (1, 3)
    assert (conditions.covered, conditions.required) == (1, 3)
    assert pairs.missed == [["metformin", "warfarin"], ["aspirin", "metformin"]]
    assert coverage.tool_calls == 4 and sum(not c.valid for c in ledger.calls) == 1
    assert coverage.share == 2 / 6


def test_a_latency_draw_is_fixed_by_the_seed_and_the_check_and_stays_in_range():
    latency = Latency(80, 40)
    key = ("warfarin", "amiodarone")
    assert latency.seconds(0, "check_drug_interaction", key) == latency.seconds(0, "check_drug_interaction", key)
    draws = {latency.seconds(seed, "check_drug_interaction", key) for seed in range(50)}
    assert len(draws) == 50 and all(0.04 <= d <= 0.12 for d in draws)
    assert Latency(25).seconds(3, "check_drug_interaction", key) == 0.025


def test_a_tool_call_waits_its_latency_and_the_ledger_keeps_when_and_how(ledger_and_tools):
    ledger = ToolLedger()
    interaction, *_ = make_tools(DRUGS, ledger.record, ToolSettings(latency=Latency(30)))
    interaction("warfarin", "amiodarone")
    interaction("warfarin", "aspirin_x")
    answered, invalid = ledger.calls
    assert (answered.outcome, invalid.outcome) == ("answered", "invalid")
    assert answered.ended - answered.started >= 0.03 and invalid.ended - invalid.started >= 0.03
    assert invalid.started >= answered.ended


def _pairs(tool_name: str = "check_drug_interaction") -> list[tuple[str, str]]:
    return [tuple(check.args.values()) for check in required_checks(DRUGS.schema, DRUGS.full_case().inputs)
            if check.tool == tool_name]


def _failing(seed: int, rate: float) -> list[tuple[str, str]]:
    """The pairs whose first call fails under this seed, found by calling every pair once."""
    interaction, *_ = make_tools(DRUGS, ToolLedger().record, ToolSettings(seed=seed, failure_rate=rate))
    failing = []
    for a, b in _pairs():
        try:
            interaction(a, b)
        except ToolUnavailableError:
            failing.append((a, b))
    return failing


def test_a_transient_failure_fails_the_same_checks_once_under_one_seed_and_a_retry_answers():
    failing = _failing(seed=0, rate=0.3)
    assert failing == _failing(seed=0, rate=0.3)  # the same checks in every run and every arm
    assert failing != _failing(seed=1, rate=0.3)
    assert 0 < len(failing) < len(_pairs()) and _failing(seed=0, rate=0.0) == []
    ledger = ToolLedger()
    interaction, *_ = make_tools(DRUGS, ledger.record, ToolSettings(seed=0, failure_rate=0.3))
    a, b = failing[0]
    with pytest.raises(ToolUnavailableError, match="temporarily unavailable.*retried"):
        interaction(a, b)
    assert interaction(b, a).startswith(("No known interaction", "MAJOR", "MODERATE", "MINOR"))  # order-free key
    first, retry = ledger.calls
    assert (first.outcome, retry.outcome) == ("transient_failure", "answered")
    recovery = measure_coverage(DRUGS, DRUGS.full_case(), ledger.calls, failures_injected=True).recovery
    assert (recovery.failures, recovery.recovered, recovery.lost) == (1, 1, [])


def test_a_check_that_failed_and_was_never_retried_is_lost_not_covered():
    ledger = ToolLedger()
    interaction, *_ = make_tools(DRUGS, ledger.record, ToolSettings(seed=0, failure_rate=0.3))
    a, b = _failing(seed=0, rate=0.3)[0]
    with pytest.raises(ToolUnavailableError):
        interaction(a, b)
    coverage = measure_coverage(DRUGS, DRUGS.full_case(), ledger.calls, failures_injected=True)
    assert coverage.covered == 0 and coverage.recovery.lost == [["check_drug_interaction", *sorted((a, b))]]
    assert measure_coverage(DRUGS, DRUGS.full_case(), ledger.calls).recovery is None  # not exercised


def test_a_json_tool_answers_a_dict_that_names_its_check_and_a_bad_call_with_an_error_field():
    raw = tomllib.loads((TASKS_DIR / "drugs.toml").read_text())
    for tool in raw["tools"]:
        tool["returns"] = "json"
    interaction, contraindication, drug_class = make_tools(parse_task(raw, "drugs_json.toml"))
    assert interaction("Warfarin", "aspirin") == {
        "check": "check_drug_interaction", "drug_a": "warfarin", "drug_b": "aspirin", "status": "found",
        "severity": "major", "details": DRUGS.finding("check_drug_interaction", ("aspirin", "warfarin")).details}
    assert contraindication("aspirin", "heart_failure") == {
        "check": "check_contraindication", "drug": "aspirin", "condition": "heart_failure", "status": "clear"}
    assert drug_class("kcl")["value"] == "electrolyte supplement (potassium chloride)"
    refused = interaction("warfarin", "tylenol")
    assert set(refused) == {"check", "error"} and "Unknown drug 'tylenol'" in refused["error"]


def test_items_keep_their_spelling_and_a_given_name_matches_one_item_or_none():
    raw = tomllib.loads((TASKS_DIR / "drugs.toml").read_text())
    raw["lists"][0]["items"] = ["Warfarin", "warfarin", "Aspirin/Low Dose", "metformin"]
    raw["tools"] = [t for t in raw["tools"] if t["name"] == "check_drug_interaction"]
    raw["tools"][0]["findings"] = [{"items": ["aspirin/low-dose", "Warfarin"], "severity": "major", "details": "x"}]
    raw["aliases"] = {"asa": "Aspirin/Low Dose"}
    task = parse_task(raw, "mine.toml")
    assert task.data.items["medications"] == ("Warfarin", "warfarin", "Aspirin/Low Dose", "metformin")
    assert set(task.data.findings["check_drug_interaction"]) == {("Aspirin/Low Dose", "Warfarin")}
    assert [task.resolve(n) for n in ("Warfarin", "warfarin", "WARFARIN", "ASPIRIN/Low Dose", "ASA", "Metformin")] == [
        "Warfarin", "warfarin", "WARFARIN", "Aspirin/Low Dose", "Aspirin/Low Dose", "metformin"]
    interaction, = make_tools(task)
    assert interaction("asa", "Warfarin").startswith("MAJOR")  # the table answers; the key is the items as spelled
    assert "Unknown drug 'WARFARIN'" in interaction("WARFARIN", "metformin")  # two items differ only in case
    assert "No known interaction between warfarin and Warfarin" in interaction("warfarin", "Warfarin")
