"""The oracle on every built-in task, for every approach that fits its limits, through the real modules and sandbox."""

import json
import re

import dspy
import pytest
from helpers import run_script, summary_row
from test_task_file import readme_example

from rlmbench.agents.approach import DEFAULT_REACT_LIMIT, ApproachConfig
from rlmbench.agents.registry import DEFAULT_APPROACHES, fits
from rlmbench.lm.models import build_lm
from rlmbench.lm.settings import ModelSettings
from rlmbench.report.claims import CLAIMS
from rlmbench.run.runner import run_once
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.task_file import load_task

# drugs has its own end-to-end module (test_benchmark_oracle); compliance runs through the CLI below. The
# one-call-per-check arms play every task from the same schema-driven step, so one task (security, three
# tools) runs them; the others run the arms whose code or turns are written per task.
TASKS = {"security": DEFAULT_APPROACHES, "portfolio": ("rlm", "react_v2"), "supply_chain": ("rlm", "react_v2"),
         "test_matrix": ("rlm", "react_v2")}


@pytest.fixture(scope="module")
def sandboxes():
    with SandboxSupply(warm=True) as supply:
        yield supply


@pytest.mark.parametrize("name", TASKS)
def test_the_oracle_covers_and_answers_every_built_in_task(name, sandboxes):
    approaches = TASKS[name]
    task = load_task(name)
    required = task.describe()["required_checks"]
    lm = build_lm(ModelSettings(model="oracle"), task.schema)
    calls = {}
    for approach in approaches:
        assert fits(approach, required, DEFAULT_REACT_LIMIT)
        with dspy.context(lm=lm, track_usage=True):
            record, trace = run_once(task, approach, 1, lm, ApproachConfig(), sandboxes=sandboxes)
        assert record.ok, (name, approach, record.failure)
        assert record.coverage.covered == record.coverage.required == required, (name, approach)
        assert record.diagnostics.hit_step_limit is False and record.task == name
        score = record.answer_score
        for tool in score.tools:
            assert tool.found == tool.true == tool.reported, (name, approach, tool)
            assert tool.severity_agreed == tool.severity_scored
            assert tool.claimed_clear_never_checked in (None, 0)
        assert score.overall_risk == score.expected_risk, (name, approach)
        calls[approach] = record.lm_calls
    # ReAct: one step per check, then finish and extract; the hybrid adds the planner's two calls.
    expected = {"react": required + 2, "rlm": 2, "hybrid": required + 4, "react_v2": 2}
    assert calls == {a: expected[a] for a in approaches}, name


def test_compliance_covers_all_1050_checks_and_skips_react_with_a_reason(tmp_path):
    result = run_script(["--task", "compliance", "--model", "oracle", "--runs", "1",
                         "--approaches", "react,rlm,react_v2", "--output", "c.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    reason = ("ReAct skipped: task compliance needs 1,050 checks, one LM call each, more than --react-limit "
              f"{DEFAULT_REACT_LIMIT}")
    assert reason in result.stderr and reason in result.stdout  # said before the runs, and in the summary
    data = json.loads((tmp_path / "c.json").read_text())
    assert [r["approach"] for r in data["records"]] == ["rlm", "react_v2"]
    assert data["skipped"] == {"react": reason}
    for r in data["records"]:
        assert r["ok"] and [(t["tool"], t["covered"], t["required"]) for t in r["coverage"]["tools"]] == [
            ("check_policy_compliance", 1000, 1000), ("check_data_residency", 50, 50)]
        assert all(t["found"] == t["true"] == t["reported"] for t in r["answer_score"]["tools"])
    assert all(r["coverage"]["follow_ups"] == [{"tool": "get_remediation", "required": 2, "made": 2, "wasted": 0,
                                                 "missed": []}] for r in data["records"])
    assert summary_row(result.stdout, "Coverage, systems x policies") == ["1000/1000", "1000/1000"]
    assert summary_row(result.stdout, "Follow-up values exact") == ["100%", "100%"]
    assert summary_row(result.stdout, "Policy gaps: recall / precision") == ["100% / 100%"] * 2
    assert "invented systems and policies" in result.stdout and "not any model's quality" in result.stdout


def test_a_task_file_written_from_the_readme_runs(tmp_path):
    (tmp_path / "allergens.toml").write_text(readme_example())
    result = run_script(["--task", "allergens.toml", "--model", "oracle", "--runs", "1",
                         "--approaches", "react,rlm", "--output", "a.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.startswith("Task: allergens (5 dishes x 4 allergens; 20 required checks)")
    assert summary_row(result.stdout, "Coverage, dishes x allergens") == ["20/20", "20/20"]
    assert summary_row(result.stdout, "Allergens found: recall / precision") == ["100% / 100%"] * 2
    assert summary_row(result.stdout, "LM calls per run") == ["22", "2"]
    assert "an invented menu" in result.stdout
    assert json.loads((tmp_path / "a.json").read_text())["task"]["source"] == str(tmp_path / "allergens.toml")


def test_the_realistic_drug_task_is_covered_recovered_followed_up_and_exact_in_every_arm(tmp_path):
    arms = [*DEFAULT_APPROACHES, "rlm_batch"]
    result = run_script(["--task", "drugs_realistic", "--model", "oracle", "--runs", "1", "--output", "r.json",
                         "--approaches", ",".join(arms)], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("Tools: latency every tool 80 +/- 40 ms; transient failures every tool 10% of checks; answers every tool "
            "about 400 tokens; seed 0"
            in result.stdout)
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    assert [r["approach"] for r in records] == arms
    for r in records:
        assert r["ok"] and r["coverage"]["follow_ups"][0] | {"missed": []} == {
            "tool": "get_management", "required": 4, "made": 4, "wasted": 0, "missed": []}, r["approach"]
        recovery = r["coverage"]["recovery"]
        assert recovery["failures"] > 0 and recovery["recovered"] == recovery["failures"] and not recovery["lost"]
        score = r["answer_score"]
        assert all(t["found"] == t["true"] == t["reported"] for t in score["tools"]), r["approach"]
        assert score["values_required"] == score["values_exact"] == 4
        if r["approach"] != "rlm_batch":  # DSPy's arms wait each call in turn, at least its shortest draw
            assert r["wall_time_s"] >= (35 + 4) * 0.04
    assert summary_row(result.stdout, "Complete runs (no error, every check made)") == ["1 / 1 [21%, 100%]"] * 5
    assert summary_row(result.stdout, "Follow-up values exact") == ["100%"] * 5
    for label in (c.label for c in CLAIMS):  # the realistic task exercises every claim: a figure in every cell
        cells = summary_row(result.stdout, label)
        assert len(cells) == 5 and not any("not exercised" in c or "n/a" in c for c in cells), (label, cells)
    assert summary_row(result.stdout, "State: follow-up values exact") == ["100%"] * 5
    page = (tmp_path / "r.html").read_text()
    assert page.count('<figure class="timeline">') == 5 and "The study&#x27;s claims, measured" in page
    # DSPy's arms call one at a time; the batch arm overlaps its calls (how many depends on the machine's load).
    assert page.count(", one at a time</figcaption>") == 4 and int(re.search(r"up to (\d) at once", page).group(1)) >= 2
    assert len(re.findall(r'<td class="c s0 r f">', page)) == 4 * 5  # each major interaction: its follow-up made
