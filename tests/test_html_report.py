"""The HTML report of a run against a model server: escaped model text, the coverage grid of an
incomplete run, and the page rebuilt from the results files alone."""

import json

import pytest
from helpers import REPORT_SCRIPT, run_process, run_script
from html_page import read_page

from rlmbench.lm.oracle.server import HANGING_RLM_REPLY, OpenAICompatibleServer

REBUILD = REPORT_SCRIPT
HOSTILE_THOUGHT = "<script>alert(1)</script>"
HOSTILE_DRUG = "<img src=x onerror=alert(2)>"


def _hostile_step(body, system, user):
    """ReAct's first step thinks in markup and calls a tool with markup for an argument, then finishes;
    the RLM writes a cell that never returns."""
    if "`code`" in system:
        return HANGING_RLM_REPLY
    if "next_tool_name" not in system:
        return None  # the final answer: the oracle's, from what the run saw
    if "observation_0" not in user:
        args = json.dumps({"drug_a": HOSTILE_DRUG, "drug_b": "warfarin"})
        return (f"[[ ## next_thought ## ]]\n{HOSTILE_THOUGHT}\n\n[[ ## next_tool_name ## ]]\ncheck_drug_interaction\n\n"
                f"[[ ## next_tool_args ## ]]\n{args}\n\n[[ ## completed ## ]]")
    return "[[ ## next_thought ## ]]\nDone.\n\n[[ ## next_tool_name ## ]]\nfinish\n\n[[ ## next_tool_args ## ]]\n{}\n\n[[ ## completed ## ]]"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("hostile")
    with OpenAICompatibleServer(_hostile_step) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--timeout", "6",
                             "--approaches", "react,rlm", "--output", "r.json"], cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return result, cwd


def test_text_from_a_model_or_a_tool_is_shown_never_run(hostile_run):
    _, cwd = hostile_run
    page = read_page((cwd / "r.html").read_text())
    assert page.problems == []
    assert HOSTILE_THOUGHT in page.text and HOSTILE_DRUG in page.text  # shown, as text
    assert len(page.scripts) == 1 and "alert" not in page.scripts[0][1]  # the page's own script only
    assert [tag for tag, attrs in page.tags if tag == "img"] == ["img"]  # the chart, nothing injected
    assert not any(name.startswith("on") for _, attrs in page.tags for name in attrs)


def test_grid_of_an_incomplete_run_shows_every_check_it_never_made(hostile_run):
    _, cwd = hostile_run
    page = read_page((cwd / "r.html").read_text())
    react, _ = page.runs
    assert react["outcome"] == "incomplete" and react["approach"] == "react"
    cells = page.grid_cells[0]
    assert len(cells) == 35 and all(c.split()[0] == "m" for c in cells)  # the one call was invalid
    truth = [c for c in cells if " s" in f" {c}"]
    assert len(truth) == 10 and not any(" r" in f" {c}" for c in truth)  # no finding reported
    assert "Missed, never checked" in page.text and "Tool ledger: 1 calls" in page.text


def test_a_timed_out_run_shows_its_cause_and_the_cell_that_never_returned(hostile_run):
    _, cwd = hostile_run
    page = read_page((cwd / "r.html").read_text())
    assert page.runs[1]["approach"] == "rlm" and page.runs[1]["outcome"] == "failed"
    rlm_section = page.text[page.text.index("failed: timeout"):]
    assert "the run passed its time budget of 6 s" in rlm_section
    assert "Cell 1 still running when the run was recorded" in rlm_section and "while True:" in rlm_section
    assert all(c.split()[0] == "m" for c in page.grid_cells[1])


def test_the_page_is_rebuilt_from_the_results_files_alone(hostile_run, tmp_path):
    _, cwd = hostile_run
    result = run_script([str(cwd / "r.json"), "--output", str(tmp_path / "again.html")], cwd, script=REBUILD)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"Report: {tmp_path / 'again.html'}"
    assert (tmp_path / "again.html").read_text() == (cwd / "r.html").read_text()


def test_rebuilding_from_a_file_that_is_not_a_results_file_is_one_line(tmp_path):
    (tmp_path / "notes.json").write_text('{"hello": 1}')
    (tmp_path / "broken.json").write_text("{")
    for name, says in (("notes.json", "is not a benchmark results file"), ("broken.json", "is not JSON"),
                       ("missing.json", "cannot read")):
        result = run_process([name], tmp_path, script=REBUILD)  # the script as a user starts it
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert result.stderr.count("\n") == 1 and says in result.stderr, result.stderr
