"""gepa_train_rlm.py: the coverage metric, the dry run, and a real offline GEPA compile."""

import json

import dspy
import pytest
from helpers import GEPA_SCRIPT, run_process, run_script

from rlmbench.gepa.training import RLMDirectAgent, instructions_of, make_coverage_metric, split_cases, task_cases
from rlmbench.scoring.ledger import ToolCall
from rlmbench.tasks.task import required_checks
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")
coverage_metric = make_coverage_metric(DRUGS)
GOLD = dspy.Example(medications=["warfarin", "aspirin", "metformin"], conditions=["chronic_kidney_disease"])
CHECKS = required_checks(DRUGS.schema, {"medications": GOLD.medications, "conditions": GOLD.conditions})


def _calls(checks, invalid=()):
    calls = [ToolCall(c.tool, c.args, "answered") for c in checks]
    calls += [ToolCall("check_drug_interaction", {"drug_a": a, "drug_b": b}, "invalid") for a, b in invalid]
    return dspy.Prediction(tool_calls=calls)


def test_complete_ledger_scores_one():
    result = coverage_metric(GOLD, _calls(CHECKS))
    assert result.score == 1.0 and "Every required check was made" in result.feedback


def test_partial_ledger_names_the_missed_checks():
    pairs = [c for c in CHECKS if c.tool == "check_drug_interaction"]
    first_condition = next(c for c in CHECKS if c.tool == "check_contraindication")
    result = coverage_metric(GOLD, _calls(pairs[:2] + [first_condition]))
    assert result.score == pytest.approx(3 / 6)
    assert "Missed check_drug_interaction for: aspirin + metformin." in result.feedback
    assert "Missed check_contraindication for: aspirin x chronic_kidney_disease, metformin x " \
           "chronic_kidney_disease." in result.feedback


def test_empty_ledger_scores_zero():
    result = coverage_metric(GOLD, dspy.Prediction(tool_calls=[]))
    assert result.score == 0.0 and "Called 0 of the 6 required checks" in result.feedback


def test_unknown_names_do_not_count_and_are_named():
    result = coverage_metric(GOLD, _calls([], invalid=[("warfarine", "aspirin")]))
    assert result.score == 0.0
    assert "1 tool call used names the task does not know: warfarine." in result.feedback


def test_cases_are_distinct_deterministic_and_split_without_overlap():
    assert [c.toDict() for c in task_cases(DRUGS, 12, seed=3)] == [c.toDict() for c in task_cases(DRUGS, 12, seed=3)]
    splits = split_cases(DRUGS, seed=0)
    keys = [(tuple(c.medications), tuple(c.conditions)) for c in splits.train + splits.val + splits.test]
    assert len(keys) == len(set(keys)) == 12


def test_cases_of_another_task_use_its_lists(tmp_path):
    security = load_task("security")
    case = task_cases(security, 1, seed=0)[0]
    assert set(case.inputs()) == {"endpoints", "attack_vectors"}
    assert set(case.endpoints) <= set(security.data.items["endpoints"])
    result = run_script(["--task", "security", "--dry-run"], tmp_path, timeout=120, script=GEPA_SCRIPT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Task:              security" in result.stdout and "Missed test_endpoint for:" in result.stdout


def test_dry_run_needs_no_key_and_calls_no_model(tmp_path):
    result = run_process(["--dry-run"], tmp_path, timeout=120, script=GEPA_SCRIPT)  # the script as a user starts it
    assert result.returncode == 0, result.stderr[-2000:]
    assert "6 train, 3 validation, 3 held-out test" in result.stdout
    assert "GEPA budget: 12 metric calls" in result.stdout
    assert "score 0.9" in result.stdout and "Missed check_drug_interaction" in result.stdout
    assert "No LM was called." in result.stdout
    assert not (tmp_path / "compiled").exists()


def test_semantic_f1_refuses_the_oracle_judge(tmp_path):
    result = run_script(["--program-model", "oracle", "--reflection-model", "oracle", "--metric", "semantic_f1"],
                        tmp_path, timeout=60, script=GEPA_SCRIPT)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "semantic_f1 needs a real judge model" in result.stderr


def test_offline_compile_saves_a_program_that_loads_back(tmp_path):
    result = run_script(["--program-model", "oracle", "--reflection-model", "oracle", "--max-metric-calls", "6",
                         "--log-dir", "gepa_run", "--output", "out/program.json"], tmp_path, timeout=240,
                        script=GEPA_SCRIPT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "Held-out coverage (3 cases): before 1.000, after 1.000" in out
    assert "rlm.generate_action:" in out and "not any model's quality" in out
    assert "Proposed new text for rlm.generate_action" in result.stderr  # the oracle reflected through DSPy
    assert "it/s" not in out  # progress bars stay on stderr
    assert (tmp_path / "gepa_run").is_dir()
    saved = json.loads((tmp_path / "out/program.json").read_text())
    loaded = RLMDirectAgent(DRUGS)
    loaded.load(str(tmp_path / "out/program.json"))
    assert instructions_of(loaded)["rlm.generate_action"] == saved["rlm.generate_action"]["signature"]["instructions"]
