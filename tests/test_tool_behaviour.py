"""Tools that take time as real services do: every arm waits what the task says, and the trace shows when."""

import json

from helpers import run_script

ARGS = ["--model", "oracle", "--runs", "1", "--output", "r.json"]


def test_every_arm_waits_each_call_and_the_trace_keeps_each_calls_time_and_outcome(tmp_path):
    result = run_script([*ARGS, "--approaches", "rlm,react_v2", "--tool-latency", "20"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Tool latency: every tool 20 ms (--tool-latency), seed 0" in result.stdout
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
