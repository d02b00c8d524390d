"""Tools that take time as real services do: every arm waits what the task says, and the trace shows when."""

import json
import re

from helpers import header, record_checks, rlm_code_reply, run_against_server, run_script, summary_row

from rlmbench.lm.oracle.code import check_code
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")

ARGS = ["--model", "oracle", "--runs", "1", "--output", "r.json"]


def test_every_arm_waits_each_call_and_the_trace_keeps_each_calls_time_and_outcome(tmp_path):
    result = run_script([*ARGS, "--approaches", "rlm,react_v2", "--tool-latency", "20"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Tools: latency every tool 20 ms (--tool-latency); transient failures none; seed 0" in result.stdout
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["tools"]["latency_override_ms"] == 20
    traces = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    for record, trace in zip(document["records"], traces):
        calls = trace["tool_calls"]
        assert record["coverage"]["tool_calls"] == len(calls) == 35
        assert all(c["outcome"] == "answered" and c["duration_s"] >= 0.02 for c in calls)
        # DSPy runs them one after another in both arms: no call starts before the previous one ended.
        assert all(b["at_s"] >= a["at_s"] + a["duration_s"] - 1e-3 for a, b in zip(calls, calls[1:]))
        assert record["wall_time_s"] >= 35 * 0.02


def test_a_resume_with_another_tool_latency_is_refused_in_one_line(tmp_path):
    first = run_script([*ARGS, "--approaches", "react_v2"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    again = run_script(["--model", "oracle", "--runs", "2", "--resume", "r.jsonl", "--tool-latency", "5"], tmp_path)
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert "tools.latency_override_ms" in again.stderr, again.stderr


def test_every_arm_of_the_oracle_retries_each_failed_check_and_loses_none(tmp_path):
    # The hybrid's executor is ReAct: its retries are ReAct's, so three arms cover every path.
    result = run_script([*ARGS, "--tool-faults", "0.3", "--approaches", "react,rlm,react_v2"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "transient failures every tool 30% of checks (--tool-faults)" in result.stdout
    document = json.loads((tmp_path / "r.json").read_text())
    for record in document["records"]:
        recovery = record["coverage"]["recovery"]
        assert recovery["failures"] > 0 and recovery["recovered"] == recovery["failures"] and recovery["lost"] == []
        assert record_checks(record, "check_drug_interaction") == (21, 21), record["approach"]
        assert record["diagnostics"]["lost_to_failures"] == [] and record["diagnostics"]["repeated_tool_calls"] == []
        assert record["diagnostics"]["tool_errors"] == [] and record["diagnostics"]["invalid_tool_calls"] == []
    (failures,) = {r["coverage"]["recovery"]["failures"] for r in document["records"]}  # the same draws in every arm
    assert summary_row(result.stdout, "Transient failures: failed / recovered / lost") == [f"{failures} / {failures} / 0"] * 3
    assert summary_row(result.stdout, "Error recovery: failed calls / recovered / lost") == [f"{failures} / {failures} / 0"] * 3
    assert summary_row(result.stdout, "Branching: follow-ups made/required, wasted") == ["not exercised"] * 3
    assert "Not exercised: branching, no follow-up tool in this task." in " ".join(result.stdout.split())


def _catch_and_move_on(body, system, user):
    """An RLM whose code catches a tool's exception and goes on to the next check, never retrying it."""
    if "`code`" in system and "=== Step" not in user:
        code = re.sub(r"^( *)_result = (\w+\(.*\))$", r"\1try:\n\1    _result = \2\n\1except Exception:\n\1    continue",
                      check_code(DRUGS.schema), flags=re.MULTILINE)
        return rlm_code_reply(code)
    return None


def test_an_rlm_that_never_retries_loses_checks_and_no_headline_row_flatters_it(tmp_path):
    result = run_against_server(_catch_and_move_on, ["--approaches", "rlm", "--tool-faults", "0.3"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = json.loads((tmp_path / "r.json").read_text())["records"]
    lost = record["coverage"]["recovery"]["lost"]
    assert record["ok"] and lost and record["coverage"]["recovery"]["recovered"] == 0
    assert len(record["diagnostics"]["lost_to_failures"]) == len(lost)
    assert summary_row(result.stdout, "Complete runs (no error, every check made)") == ["0 / 1 [0%, 79%]"]
    assert summary_row(result.stdout, "Complete on all of k tries (pass^k)") == ["k=1 0%"]
    assert summary_row(result.stdout, "Failed calls never retried to an answer")[0].startswith(f"{len(lost)} in 1 / 1")
    page = (tmp_path / "r.html").read_text()
    assert len(re.findall(r'<td class="m[^"]* l">', page)) == len(lost)  # the grid marks each check lost


def test_a_latency_sweep_runs_every_arm_at_each_latency_and_says_where_each_pair_changes_order(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "2", "--approaches", "rlm_batch,react_v2",
                         "--tool-latency", "30,0", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    document = json.loads((tmp_path / "r.json").read_text())
    assert document["tools"]["latency_sweep_ms"] == [0, 30]
    runs = {(r["approach"], r["tool_latency_ms"], r["case"]) for r in document["records"]}
    assert runs == {(a, ms, f"{ms:g} ms") for a in ("rlm_batch", "react_v2") for ms in (0, 30)}
    for record in document["records"]:  # ReActV2 waits each call in turn: 35 x 30 ms at least
        if record["tool_latency_ms"] == 30 and record["approach"] == "react_v2":
            assert record["wall_time_s"] >= 35 * 0.03
    text = " ".join(result.stdout.split())
    assert "Tools: latency every tool, in turn 0 ms, 30 ms (--tool-latency)" in text
    assert "Wall time per tool latency, runs without error" in text and "At 30 ms, the largest tool latency:" in text
    for ms in (0, 30):  # a mean and its interval for every arm at every latency
        cells = summary_row(result.stdout, f"{ms} ms")
        assert len(cells) == 2 and all(re.fullmatch(r"\d+\.\d\d s \[\d+\.\d\d, \d+\.\d\d\]", c) for c in cells), cells
    assert len(summary_row(result.stdout, "RLM Direct + call_many vs ReActV2")) == 1  # the pair's verdict


def _timed(approach: str, ms: float, walls: list[float]) -> list:
    from rlmbench.results.records import Coverage, RunRecord

    return [RunRecord(task="drugs", model="oracle", approach=approach, run=i, ok=True, wall_time_s=wall,
                      coverage=Coverage(tools=[]), lm_calls=2, prompt_tokens=1, completion_tokens=1,
                      tool_latency_ms=ms, case=f"{ms:g} ms") for i, wall in enumerate(walls, 1)]


def test_a_pairs_verdict_follows_the_welch_interval_at_each_latency_and_names_where_the_order_changes():
    from rlmbench.lm.settings import ModelSettings
    from rlmbench.report.latency import crossover_table

    meta = header(DRUGS, ["rlm_batch", "react_v2"], ModelSettings(model="oracle"))
    meta.tools.latency_sweep_ms = [0, 30, 100]
    records = (_timed("rlm_batch", 0, [0.30, 0.31, 0.29]) + _timed("react_v2", 0, [0.10, 0.11, 0.12])
               + _timed("rlm_batch", 30, [0.40, 0.70, 0.55]) + _timed("react_v2", 30, [0.45, 0.65, 0.60])
               + _timed("rlm_batch", 100, [0.80, 0.81, 0.82]) + _timed("react_v2", 100, [3.6, 3.7, 3.65]))
    ((pair, (verdict,)),) = crossover_table(records, meta).rows
    assert pair == "RLM Direct + call_many vs ReActV2"
    assert verdict == ("0 ms ReActV2 faster; 30 ms no clear difference; 100 ms RLM Direct + call_many faster")
    flipped = [r for r in records if r.tool_latency_ms != 30]
    meta.tools.latency_sweep_ms = [0, 100]
    ((_, (verdict,)),) = crossover_table(flipped, meta).rows
    assert verdict.endswith("; the order changes between 0 ms and 100 ms")
    same = [r.model_copy(update={"wall_time_s": r.wall_time_s + 5}) if r.approach == "react_v2" else r
            for r in flipped]
    ((_, (verdict,)),) = crossover_table(same, meta).rows
    assert verdict == "RLM Direct + call_many faster at every latency measured (0 ms to 100 ms)"


def test_a_latency_list_is_refused_with_a_scale_sweep_and_on_resume_in_one_line(tmp_path):
    scale = run_script(["--model", "oracle", "--scale", "4x2", "--tool-latency", "0,25"], tmp_path)
    assert scale.returncode == 2 and scale.stderr.strip() == (
        "error: --tool-latency: a scale sweep runs at one value; give one value with --scale")
    twice = run_script(["--model", "oracle", "--tool-latency", "25,25"], tmp_path)
    assert twice.returncode == 2 and "a latency is given twice in 25,25" in twice.stderr
