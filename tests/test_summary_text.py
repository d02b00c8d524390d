"""The text summary as a terminal shows it: bounded width, long texts numbered under the table."""

from rlmbench.report.cells import runs_listed
from rlmbench.report.tables import SUMMARY_WIDTH, render_table

FAILURE = "timeout x1: RunCancelled: the run passed its time budget of 420 s (--timeout)"


def test_a_long_cell_goes_under_the_table_numbered_and_every_line_fits():
    header = ["Metric", "ReAct", "RLM Direct", "RLM planner + ReAct executor", "ReActV2", "RLM Direct + call_many"]
    rows = [("Complete runs (no error, every check made)", ["0 / 1 [0%, 79%]"] * 5),
            ("Notable failure", [FAILURE, "none", FAILURE.replace("420", "421"), "none", "none"])]
    text = render_table(header, rows)
    assert max(len(line) for line in text.splitlines()) <= SUMMARY_WIDTH
    failure_row = next(line for line in text.splitlines() if line.startswith("Notable failure"))
    assert failure_row.split()[2:] == ["[1]", "none", "[2]", "none", "none"]
    assert f"[1] ReAct, Notable failure: {FAILURE}" in text
    assert "[2] RLM planner + ReAct executor, Notable failure: timeout x1" in text


def test_a_table_that_fits_is_drawn_as_is():
    text = render_table(["Metric", "ReAct"], [("Notable failure", [FAILURE])])
    assert text.splitlines()[2] == f"Notable failure  {FAILURE}" and "[1]" not in text


def test_equal_runs_are_folded_in_order():
    assert runs_listed(["21/21", "21/21", "18/21*", "21/21"]) == "21/21 x2, 18/21*, 21/21"
    assert runs_listed([]) == "n/a"
