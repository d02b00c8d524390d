"""The whole benchmark on the offline oracle: real DSPy modules, real sandbox, real CLI."""

import json

import pytest
from helpers import record_checks, run_script, summary_row
from html_page import read_page, text_tables


@pytest.fixture(scope="module")
def oracle_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("oracle")
    result = run_script(["--model", "oracle", "--runs", "2", "--plot", "--output", "out/results.json"], cwd)
    return result, cwd


def test_every_approach_succeeds_with_full_coverage(oracle_run):
    result, cwd = oracle_run
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((cwd / "out/results.json").read_text())
    assert data["state"] == "finished" and data["dspy_version"] == "3.4.1"
    assert [m["model"] for m in data["models"]] == ["oracle"] and data["cache"] is False
    assert data["schema_version"] == 3 and data["task"]["name"] == "drugs" and data["task"]["required_checks"] == 35
    records = data["records"]
    assert [(r["approach"], r["run"]) for r in records] == [
        ("react", 1), ("react", 2), ("rlm", 1), ("rlm", 2), ("hybrid", 1), ("hybrid", 2),
        ("react_v2", 1), ("react_v2", 2)]
    for r in records:
        assert r["ok"], r["failure"]
        assert r["task"] == "drugs"
        assert record_checks(r, "check_drug_interaction") == (21, 21)
        assert record_checks(r, "check_contraindication") == (14, 14)
        assert r["wall_time_s"] > 0
        assert r["lm_calls"] == len(r["usage_per_call"]) and r["prompt_tokens"] > 0
        assert r["diagnostics"]["hit_step_limit"] is False


def test_every_structured_answer_is_scored_against_the_ground_truth(oracle_run):
    _, cwd = oracle_run
    for r in json.loads((cwd / "out/results.json").read_text())["records"]:
        interactions, contraindications = r["answer_score"]["tools"]
        assert (interactions["true"], contraindications["true"]) == (8, 2), r["approach"]
        assert interactions["found"] == interactions["reported"] == interactions["severity_agreed"] == 8
        assert contraindications["found"] == contraindications["reported"] == 2
        assert interactions["claimed_clear"] == 13 and interactions["claimed_clear_never_checked"] == 0
        assert r["answer_score"]["overall_risk"] == r["answer_score"]["expected_risk"] == "high"


def test_the_architectures_differ_in_lm_calls_as_designed(oracle_run):
    _, cwd = oracle_run
    records = json.loads((cwd / "out/results.json").read_text())["records"]
    calls = {r["approach"]: r["lm_calls"] for r in records}
    # ReAct: 35 tool steps + finish + extract. RLM: one code cell, one SUBMIT.
    # Hybrid: the planner's two calls + the executor's 37. ReActV2: every check in one turn, then submit.
    assert calls == {"react": 37, "rlm": 2, "hybrid": 39, "react_v2": 2}
    react = next(r for r in records if r["approach"] == "react")
    prompts = [c["prompt_tokens"] for c in react["usage_per_call"][:36]]
    assert prompts == sorted(prompts) and prompts[-1] > 3 * prompts[0]  # the trajectory is re-read every step
    rlm = next(r for r in records if r["approach"] == "rlm")
    assert "MAJOR interaction between warfarin and amiodarone" in rlm["narrative"]
    assert "CONTRAINDICATED: metformin in chronic_kidney_disease" in rlm["narrative"]


def test_summary_is_plain_text_and_says_what_the_oracle_measures(oracle_run):
    result, _ = oracle_run
    out = result.stdout
    assert "\x1b[" not in out  # no terminal escapes when piped
    assert max(len(line) for line in out.splitlines()) <= 160  # four arms fit a terminal and a report's code block
    assert summary_row(out, "Coverage, medications pairs")[0] == "21/21 x2"  # equal runs folded
    assert summary_row(out, "Coverage, medications x conditions")[3] == "14/14 x2"
    assert summary_row(out, "Interactions: recall / precision") == ["100% / 100%"] * 4
    assert out.startswith("Task: drugs (7 medications x 2 conditions; 35 required checks)")
    assert summary_row(out, "Completed without error")[0] == "2 / 2 [34%, 100%]"
    assert "not any model's quality" in out
    assert "SIMULATED DATA - not medical advice" in out
    assert "Results: out/results.json" in out
    assert "[ReAct 1/2] ok" in result.stderr and "[ReAct 1/2]" not in out  # progress goes to stderr


def test_every_file_the_benchmark_writes_gets_the_users_usual_permissions(oracle_run):
    _, cwd = oracle_run
    usual = (cwd / "usual").open("w").close() or (cwd / "usual").stat().st_mode & 0o777  # the umask's mode
    written = {path.name: path.stat().st_mode & 0o777 for path in (cwd / "out").iterdir()}
    assert set(written) >= {"results.json", "results.jsonl", "results.traces.jsonl", "results.html", "results.png"}
    assert set(written.values()) == {usual}, written


def test_traces_file_has_one_line_per_run(oracle_run):
    _, cwd = oracle_run
    lines = (cwd / "out/results.traces.jsonl").read_text().splitlines()
    traces = [json.loads(line) for line in lines]
    assert [(t["approach"], t["run"]) for t in traces][:2] == [("react", 1), ("react", 2)]
    hybrid = next(t for t in traces if t["approach"] == "hybrid")
    assert len(hybrid["plan"]) == 35 and len(hybrid["tool_calls"]) == 35
    rlm = next(t for t in traces if t["approach"] == "rlm")
    assert "check_drug_interaction(" in rlm["trajectory"][0]["code"]
    v2 = next(t for t in traces if t["approach"] == "react_v2")
    assert [len(turn["tool_calls"]) for turn in v2["turns"]] == [35, 1] and v2["termination_reason"] == "submit"


def test_plot_writes_a_chart_next_to_the_results(oracle_run):
    result, cwd = oracle_run
    png = (cwd / "out/results.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert "Chart:   out/results.png" in result.stdout


def test_html_report_is_written_beside_the_results_and_printed(oracle_run):
    result, cwd = oracle_run
    assert "Report:  out/results.html" in result.stdout
    page = read_page((cwd / "out/results.html").read_text())
    assert page.problems == []
    records = json.loads((cwd / "out/results.json").read_text())["records"]
    assert [(r["model"], r["approach"], r["outcome"]) for r in page.runs] == [
        (r["model"], r["approach"], "complete") for r in records]
    # The header carries the notices exactly as the text summary words them.
    assert "not any model's quality" in page.text and "SIMULATED DATA - not medical advice" in page.text


def test_html_tables_hold_the_numbers_the_text_summary_prints(oracle_run):
    result, cwd = oracle_run
    page = read_page((cwd / "out/results.html").read_text())
    printed = text_tables(result.stdout)
    assert len(printed) == 3  # the model's table, the differences from RLM Direct, the study's claims
    assert page.summary_tables == printed


def test_html_report_fetches_nothing(oracle_run):
    _, cwd = oracle_run
    text = (cwd / "out/results.html").read_text()
    page = read_page(text)
    assert [(tag, value[:22]) for tag, _, value in page.links] == [("img", "data:image/png;base64,")]
    assert all(not attrs.get("src") for attrs, _ in page.scripts) and len(page.scripts) == 1
    assert not any(tag == "link" for tag, _ in page.tags)
    assert "@import" not in text and "url(" not in text


def test_html_report_shows_each_runs_grid_findings_and_trace(oracle_run):
    _, cwd = oracle_run
    text = (cwd / "out/results.html").read_text()
    page = read_page(text)
    # Every run made all 35 checks; 10 of them are findings, and every finding was reported.
    for cells in page.grid_cells:
        assert len(cells) == 35 and all(c.split()[0] == "c" for c in cells)
        assert sum(" s" in f" {c}" for c in cells) == 10 and all(" r" in c for c in cells if " s" in f" {c}")
    assert text.count("interactions (check_drug_interaction): 8 of 8 true findings reported, 8 reported") == 8
    assert "Observation" in text and "Iteration 1" in text and "Plan: 35 calls" in text  # ReAct, RLM, hybrid
    assert "Turn 1: 35 tool calls" in text and "Tool ledger: 35 calls" in text  # ReActV2, every run's ledger
    assert '<span class="k">for</span>' in text  # the RLM's code, highlighted


def test_a_declared_context_window_refuses_a_larger_prompt_as_a_provider_would(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--context-window", "2500",
                         "--approaches", "react,rlm,react_v2", "--output", "w.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    by = {r["approach"]: r for r in json.loads((tmp_path / "w.json").read_text())["records"]}
    assert by["rlm"]["ok"] and by["rlm"]["coverage"]["tools"][0]["covered"] == 21  # its prompts fit
    assert by["react_v2"]["failure"]["category"] == "context_window"  # every check made, then its answer turn
    assert sum(t["covered"] for t in by["react_v2"]["coverage"]["tools"]) == 35
    assert by["react"]["diagnostics"]["trajectories_truncated"]  # DSPy's ReAct cut its trajectory to fit
    assert all(max(c["prompt_tokens"] for c in r["usage_per_call"]) <= 2500 for r in by.values())
    assert ("context window: 2,500 tokens (models file or flags; the benchmark refuses a larger prompt before "
            "sending it)") in result.stdout
    assert summary_row(result.stdout, "Largest prompt of a run, of the window")[1] == "2,302 (92% of 2,500)"
    assert summary_row(result.stdout, "Hit the context window (refused or truncated)") == ["1 / 1", "0 / 1", "1 / 1"]
    assert "Traceback" not in result.stderr
