"""A task of lookups alone ("look up each of these"): no findings to score, everything else measured, on the task's
tables, the user's functions and an MCP server, in every oracle arm."""

import pytest
from helpers import run_script, summary_cells, summary_row
from user_tasks import EVERY_ARM, covered, lookup_task, records, servers


@pytest.mark.parametrize("backend", ["table", "function", "mcp"])
def test_a_task_of_lookups_alone_runs_in_every_arm_with_its_findings_rows_na(backend, tmp_path):
    path = lookup_task(tmp_path, backend)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", EVERY_ARM,
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    data = records(tmp_path / "r.json")
    assert data["task"]["truth"] == "no_findings"
    for record in data["records"]:
        assert record["ok"] and covered(record) == (3, 3), record["approach"]
        assert record["coverage"]["tool_calls"] == 3, record["approach"]  # each city once: its answer was read
        assert record["answer_score"] is None
    arms = len(data["records"])
    assert summary_cells(result.stdout, "Complete runs (no error, every check made)")[0].startswith("1 / 1")
    assert summary_row(result.stdout, "Findings and overall risk (no findings in this task)") == ["n/a"] * arms
    assert "Overall risk level right" not in result.stdout and "Reported without a check" not in result.stdout
    assert summary_row(result.stdout, "Aggregation: risk level right, severity agreement") == ["not exercised"] * arms
    assert result.stdout.count("No findings in this task: its tools look things up") == 1
    assert "recall / precision" not in result.stdout
    assert "New York" in (tmp_path / "r.html").read_text()
    assert servers(tmp_path) == []


def test_a_task_with_no_required_check_is_one_line(tmp_path):
    path = lookup_task(tmp_path, "table")
    (tmp_path / "task.toml").write_text((tmp_path / "task.toml").read_text().replace("required = true\n", ""))
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: tools: no tool has required checks: a task needs a pair or "
                                     f"cross tool, or an attribute tool with required = true")


def test_a_task_with_findings_still_needs_its_severity_scale(tmp_path):
    path = lookup_task(tmp_path, "table")
    text = (tmp_path / "task.toml").read_text().replace('kind = "attribute"', 'kind = "pair"').replace(
        'args = ["city"]', 'args = ["a", "b"]').replace("required = true\n", "").replace(
        'values = { Berlin = "+1", Tokyo = "+9", "New York" = "-5" }', "")
    (tmp_path / "task.toml").write_text(text)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: severities: missing: a tool with findings needs the task's "
                                     f"severity scale and risk rule")
