"""The whole benchmark on the offline oracle: real DSPy modules, real sandbox, real CLI."""

import json

import pytest

from helpers import run_script


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("oracle")
    result = run_script(["--model", "oracle", "--runs", "2", "--output", "out/results.json"], cwd)
    return result, cwd


def test_every_approach_succeeds_with_full_coverage(oracle_run):
    result, cwd = oracle_run
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((cwd / "out/results.json").read_text())
    assert data["finished"] is True and data["dspy_version"] == "3.4.1"
    assert data["model"]["model"] == "oracle" and data["cache"] is False
    records = data["records"]
    assert [(r["approach"], r["run"]) for r in records] == [
        ("react", 1), ("react", 2), ("rlm", 1), ("rlm", 2), ("hybrid", 1), ("hybrid", 2)]
    for r in records:
        assert r["ok"], r["failure"]
        assert (r["coverage"]["pairs_covered"], r["coverage"]["pairs_required"]) == (21, 21)
        assert (r["coverage"]["conditions_covered"], r["coverage"]["conditions_required"]) == (14, 14)
        assert r["wall_time_s"] > 0
        assert r["lm_calls"] == len(r["usage_per_call"]) and r["prompt_tokens"] > 0


def test_the_architectures_differ_in_lm_calls_as_designed(oracle_run):
    _, cwd = oracle_run
    records = json.loads((cwd / "out/results.json").read_text())["records"]
    calls = {r["approach"]: r["lm_calls"] for r in records}
    # ReAct: 35 tool steps + finish + extract. RLM: one code cell, one SUBMIT.
    # Hybrid: the planner's two calls + the executor's 37.
    assert calls == {"react": 37, "rlm": 2, "hybrid": 39}
    react = next(r for r in records if r["approach"] == "react")
    prompts = [c["prompt_tokens"] for c in react["usage_per_call"][:36]]
    assert prompts == sorted(prompts) and prompts[-1] > 3 * prompts[0]  # the trajectory is re-read every step
    rlm = next(r for r in records if r["approach"] == "rlm")
    assert "MAJOR interaction between warfarin and amiodarone" in rlm["report"]
    assert "CONTRAINDICATED: metformin in chronic_kidney_disease" in rlm["report"]


def test_summary_is_plain_text_and_says_what_the_oracle_measures(oracle_run):
    result, _ = oracle_run
    out = result.stdout
    assert "\x1b[" not in out  # no terminal escapes when piped
    assert "Pairwise coverage           21/21, 21/21" in out
    assert "Successful runs             2 / 2" in out
    assert "not any model's quality" in out
    assert "SIMULATED DATA - not medical advice" in out
    assert "Results: out/results.json" in out
    assert "[ReAct 1/2] ok" in result.stderr and "[ReAct 1/2]" not in out  # progress goes to stderr


def test_traces_file_has_one_line_per_run(oracle_run):
    _, cwd = oracle_run
    lines = (cwd / "out/results.traces.jsonl").read_text().splitlines()
    traces = [json.loads(line) for line in lines]
    assert [(t["approach"], t["run"]) for t in traces][:2] == [("react", 1), ("react", 2)]
    hybrid = next(t for t in traces if t["approach"] == "hybrid")
    assert len(hybrid["plan"]) == 35 and len(hybrid["tool_calls"]) == 35
    rlm = next(t for t in traces if t["approach"] == "rlm")
    assert "check_drug_interaction(" in rlm["trajectory"][0]["code"]
