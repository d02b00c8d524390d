"""The scenario and tools: what every approach is measured against."""

import pytest

from rlmbench.ledger import ToolLedger, measure_coverage
from tools import DEFAULT_SCENARIO, make_tools, required_condition_checks, required_pairs


@pytest.fixture
def ledger_and_tools():
    ledger = ToolLedger()
    interaction, contraindication, drug_class = make_tools(DEFAULT_SCENARIO, ledger.record)
    return ledger, interaction, contraindication, drug_class


def test_database_holds_the_documented_ground_truth():
    severities = sorted(i.severity for i in DEFAULT_SCENARIO.interactions.values())
    assert severities.count("major") == 4 and severities.count("moderate") == 2 and severities.count("minor") == 2
    assert set(DEFAULT_SCENARIO.contraindications) == {
        ("metformin", "chronic_kidney_disease"), ("potassium", "chronic_kidney_disease")}
    assert set(DEFAULT_SCENARIO.drug_classes) == set(DEFAULT_SCENARIO.medications)
    assert len(required_pairs(DEFAULT_SCENARIO.medications)) == 21
    assert len(required_condition_checks(DEFAULT_SCENARIO.medications, DEFAULT_SCENARIO.conditions)) == 14


def test_interaction_lookup_is_order_insensitive_and_normalises_names(ledger_and_tools):
    _, interaction, _, _ = ledger_and_tools
    forward = interaction("warfarin", "aspirin")
    assert forward.startswith("MAJOR interaction")
    reverse = interaction(" Aspirin ", "WARFARIN")
    assert reverse.startswith("MAJOR interaction between aspirin and warfarin")
    assert reverse.split(":", 1)[1] == forward.split(":", 1)[1]
    assert "No known interaction" in interaction("metformin", "aspirin")


def test_contraindication_and_class_lookups(ledger_and_tools):
    _, _, contraindication, drug_class = ledger_and_tools
    assert contraindication("Metformin", "Chronic Kidney-Disease").startswith("CONTRAINDICATED")
    assert contraindication("metformin", "CKD").startswith("CONTRAINDICATED")
    assert "No contraindication" in contraindication("aspirin", "heart_failure")
    assert "ACE inhibitor" in drug_class("lisinopril")


def test_unknown_names_get_a_message_listing_valid_ones_not_an_exception(ledger_and_tools):
    ledger, interaction, contraindication, drug_class = ledger_and_tools
    message = interaction("warfarin", "unobtainium")
    assert "Unknown drug 'unobtainium'" in message and "warfarin" in message and "metformin" in message
    assert "Valid conditions: chronic_kidney_disease, heart_failure" in contraindication("aspirin", "gout")
    assert drug_class("").startswith("Unknown drug")
    assert [c.valid for c in ledger.calls] == [False, False, False]


def test_coverage_counts_only_valid_distinct_calls(ledger_and_tools):
    ledger, interaction, contraindication, _ = ledger_and_tools
    meds, conds = ["warfarin", "aspirin", "metformin"], ["chronic_kidney_disease"]
    interaction("warfarin", "aspirin")
    interaction("aspirin", "warfarin")  # the same pair again
    interaction("metformin", "nope")  # invalid: does not count
    contraindication("metformin", "ckd")
    coverage = measure_coverage(ledger.calls, meds, conds)
    assert (coverage.pairs_covered, coverage.pairs_required) == (1, 3)
    assert (coverage.conditions_covered, coverage.conditions_required) == (1, 3)
    assert coverage.missed_pairs == [("metformin", "warfarin"), ("aspirin", "metformin")]
    assert coverage.tool_calls == 4 and coverage.invalid_tool_calls == 1
