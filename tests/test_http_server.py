"""The benchmark against an OpenAI-compatible server on 127.0.0.1, over real HTTP."""

import json

from helpers import record_checks, rlm_code_reply, run_script, summary_row

from rlmbench.lm.oracle.server import OpenAICompatibleServer, always
from rlmbench.report.cells import idle_wait_cell
from rlmbench.report.plots import benchmark_panels, chart_png
from rlmbench.results.files import read_results
from rlmbench.tasks.task_file import load_task


def _records(path):
    return json.loads(path.read_text())["records"]


def test_all_approaches_reach_a_local_server_and_honour_max_tokens(tmp_path):
    with OpenAICompatibleServer() as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1",
                             "--max-tokens", "1234", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    records = _records(tmp_path / "r.json")
    assert [r["ok"] for r in records] == [True, True, True, True]
    assert all(record_checks(r, "check_drug_interaction") == (21, 21)
               and record_checks(r, "check_contraindication") == (14, 14) for r in records)
    assert len(server.requests) == sum(r["lm_calls"] for r in records) == 37 + 2 + 39 + 2
    # llama.cpp's server ignores max_completion_tokens; the limit must arrive as max_tokens.
    assert all(body.get("max_tokens") == 1234 and "max_completion_tokens" not in body for body in server.requests)
    assert "not any model's quality" not in result.stdout  # only oracle runs carry the oracle notice
    # The RLM's action prompt describes the sandbox in DSPy's own words, through the harness's factory.
    actions = [json.dumps(b) for b in server.requests if "SUBMIT(" in json.dumps(b)]
    assert actions and all("Python runs in Pyodide/WebAssembly" in a for a in actions)


def _without_code(body, system, user):
    if "`code`" in system:  # an RLM action request
        return "[[ ## reasoning ## ]]\nI will think about it.\n\n[[ ## completed ## ]]"
    return None


def test_a_reply_without_code_is_a_recorded_failure_and_other_runs_complete(tmp_path):
    with OpenAICompatibleServer(_without_code) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "2", "--retries", "0",
                             "--approaches", "rlm,react", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    records = _records(tmp_path / "r.json")
    rlm = [r for r in records if r["approach"] == "rlm"]
    assert [r["ok"] for r in rlm] == [False, False]
    assert {r["failure"]["category"] for r in rlm} == {"parse_error"}
    assert all(r["ok"] for r in records if r["approach"] == "react")
    assert summary_row(result.stdout, "Completed without error")[0] == "0 / 2 [0%, 66%]"
    assert "parse_error x2: AdapterParseError" in result.stdout


def _null_code(body, system, user):
    if "`code`" in system:
        return '{"reasoning": "nothing to run", "code": null}'
    return None


def test_an_rlm_that_never_submits_is_marked_as_hitting_its_iteration_limit(tmp_path):
    with OpenAICompatibleServer(_null_code) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "rlm", "--rlm-max-iters", "2", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = _records(tmp_path / "r.json")
    assert record["diagnostics"]["hit_step_limit"] is True
    assert record_checks(record, "check_drug_interaction") == (0, 21)
    assert summary_row(result.stdout, "Hit iteration limit")[0] == "1 / 1"


def test_an_rlm_cut_after_using_every_iteration_hit_its_limit(tmp_path):
    # Every cell runs and never submits; the extract step after the last iteration never comes back.
    extract = lambda n, body, system, user: "hang" if "`code`" not in system else None  # noqa: E731
    with OpenAICompatibleServer(lambda body, system, user: rlm_code_reply("print(1)") if "`code`" in system
                                else None, faults=extract) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "rlm", "--rlm-max-iters", "2", "--timeout", "6", "--output", "r.json"],
                            tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = _records(tmp_path / "r.json")
    assert record["failure"]["category"] == "timeout"
    assert (record["diagnostics"]["steps_used"], record["diagnostics"]["hit_step_limit"]) == (2, True)
    assert summary_row(result.stdout, "Hit iteration limit")[0] == "1 / 1"


def _malformed_plan(body, system, user):
    if "SUBMIT(plan)" in system:
        return "[[ ## reasoning ## ]]\nDone.\n\n[[ ## code ## ]]\n```python\nSUBMIT(plan='check everything')\n```\n\n[[ ## completed ## ]]"
    if "Your output fields are:\n1. `plan`" in system:  # the RLM's extract fallback
        return "[[ ## plan ## ]]\nnot a plan\n\n[[ ## completed ## ]]"
    return None


def test_a_malformed_plan_fails_the_hybrid_run_as_plan_invalid(tmp_path):
    with OpenAICompatibleServer(_malformed_plan) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "hybrid,rlm", "--rlm-max-iters", "2", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    hybrid, rlm = _records(tmp_path / "r.json")
    assert hybrid["ok"] is False and hybrid["failure"]["category"] == "plan_invalid"
    assert hybrid["coverage"]["tool_calls"] == 0
    assert rlm["ok"] is True and record_checks(rlm, "check_drug_interaction") == (21, 21)


def test_timeout_flag_ends_a_hung_request_and_the_summary_counts_it(tmp_path):
    # The first request never answers until the client leaves; the healthy run is two LM calls, so a 10 s
    # budget has a wide margin on a busy machine and only the hung run reaches it.
    with OpenAICompatibleServer(faults=lambda n, *_: "hang" if n == 1 else None) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "2", "--retries", "0",
                             "--approaches", "rlm", "--timeout", "10", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = _records(tmp_path / "r.json")
    assert first["failure"]["category"] == "timeout" and second["ok"] is True
    assert summary_row(result.stdout, "Failures by category")[0] == "timeout 1"
    assert summary_row(result.stdout, "Completed without error")[0] == "1 / 2 [9%, 91%]"


def test_a_timeout_closes_the_request_and_the_next_run_waits_for_the_server_to_finish_it(tmp_path):
    # A single-slot server that goes on generating after its client left, as llama.cpp's does: the first
    # request takes 8 s, the run's budget is 3 s. The healthy ReActV2 run is two instant calls.
    with OpenAICompatibleServer(generation=lambda n, body: 8.0 if n == 1 else 0.0, single_slot=True) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "2", "--retries", "3",
                             "--approaches", "react_v2", "--timeout", "3", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    cut, healthy = _records(tmp_path / "r.json")
    assert cut["failure"]["category"] == "timeout" and healthy["ok"] is True
    # The request in flight was closed at the budget, and no retry of it went out after the budget.
    first, probe, *rest = server.served
    assert first.client_left and probe.max_tokens == 1 and len(rest) == healthy["lm_calls"] == 2
    # The cut run's trace keeps the abandoned call: its size and how long it ran before the budget.
    traces = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    (abandoned,) = traces[0]["lm_calls"]
    assert abandoned["cancelled"] and abandoned["request_chars"] > 1000
    assert 0 < abandoned["duration_s"] <= cut["wall_time_s"]
    # The next run started only once the server had finished the abandoned call, and the wait is its own.
    assert rest[0].arrived >= first.ended
    wait = healthy["idle_wait"]
    assert wait["confirmed"] and wait["after"] == ["ReActV2 1"] and wait["waited_s"] > 0
    assert summary_row(result.stdout, "Waited for the server (not in wall time)")[0].startswith("1 run,")
    assert "cut at max_tokens" not in result.stderr  # the probe's one token is its request, not a cut reply
    page = (tmp_path / "r.html").read_text()  # the cut call says so, and prints no None for what it never got
    assert "<td>cut at --timeout</td>" in page and "<td>None</td>" not in page
    # Had the server not answered within the bound, the row names the run that may have shared it.
    _, records = read_results(tmp_path / "r.json")
    gave_up = records[1].idle_wait.model_copy(update={"confirmed": False, "problem": "no answer within 420 s"})
    assert idle_wait_cell([records[0], records[1].model_copy(update={"idle_wait": gave_up})]).endswith(
        "server not idle, may be shared with a cut call: run 2")


def test_a_run_that_made_every_check_and_then_timed_out_is_not_complete_anywhere(tmp_path):
    # ReActV2 makes all 35 checks in its first turn; its second request (the answer) never comes back.
    with OpenAICompatibleServer(faults=lambda n, *_: "hang" if n == 2 else None) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "react_v2", "--timeout", "5", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = _records(tmp_path / "r.json")
    assert record["failure"]["category"] == "timeout" and record["coverage"]["tool_calls"] == 35
    assert summary_row(result.stdout, "Complete runs (no error, every check made)") == ["0 / 1 [0%, 79%]"]
    assert summary_row(result.stdout, "Complete on all of k tries (pass^k)") == ["k=1 0%"]
    assert summary_row(result.stdout, "All checks made, no answer") == ["1 / 1"]
    # Both requests count, the one cut at the budget marked so, in the figures and the call list alike.
    assert record["lm_calls"] == 2 and record["lm_calls_cut"] == 1 and len(record["usage_per_call"]) == 1
    assert summary_row(result.stdout, "Of these, failed / cut at --timeout") == ["0 / 1"]
    (trace,) = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    assert [c["cancelled"] for c in trace["lm_calls"]] == [False, True]
    page = (tmp_path / "r.html").read_text()
    assert "0 complete" in page and "1 all checks made, no answer" in page
    assert 'data-outcome="no_answer"' in page
    # No run ended without error: the chart draws no empty wall-time panel.
    meta, records = read_results(tmp_path / "r.json")
    assert [p.has_data for p in benchmark_panels(records, meta.approaches, meta)] == [True, True, False]
    assert chart_png(records, meta, load_task("drugs").schema)[:4] == b"\x89PNG"


MALFORMED_TURN = ('[[ ## next_thought ## ]]\nCheck two pairs.\n\n[[ ## tool_calls ## ]]\n'
                  '{"tool_calls": [{"name": "check_drug_interaction", "args": {"drug_a": "warfarin", '
                  '"drug_b": "amiodarone"}}]}\n'
                  '{"tool_calls": [{"name": "check_drug_interaction", "args": {"drug_a": "warfarin", '
                  '"drug_b": "aspirin"}}]}\n\n[[ ## completed ## ]]')


def test_tool_calls_a_reply_asked_for_but_dspy_never_ran_are_counted(tmp_path):
    # Two JSON objects in one tool_calls field, as a small model wrote them: DSPy 3.4.1 runs the last one only.
    served = []

    def behaviour(body, system, user):
        if "`tool_calls`" in system and not served:
            served.append(1)
            return MALFORMED_TURN
        return None

    with OpenAICompatibleServer(behaviour) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "react_v2", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = _records(tmp_path / "r.json")
    assert record["diagnostics"]["dropped_tool_calls"] == [1]
    trace = json.loads((tmp_path / "r.traces.jsonl").read_text().splitlines()[0])
    assert len(trace["turns"][0]["tool_calls"]) == 1  # the turn ran one call; the oracle made the others next turn
    assert summary_row(result.stdout, "Tool calls asked for, never run") == ["1 in 1 / 1 runs"]
    assert "Tool calls asked for, never run: 1 (at 1)" in (tmp_path / "r.html").read_text()


def test_dspys_truncation_warning_says_what_to_do_on_the_command_line(tmp_path):
    def cut(body, system, user):  # every ReAct step's reply is cut at max_tokens
        if "`next_tool_name`" in system:
            return {"content": ("[[ ## next_thought ## ]]\nDone.\n\n[[ ## next_tool_name ## ]]\nfinish\n\n"
                                "[[ ## next_tool_args ## ]]\n{}\n\n[[ ## completed ## ]]"), "finish_reason": "length"}
        return None

    with OpenAICompatibleServer(cut) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "2", "--retries", "0",
                             "--approaches", "react", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "dspy.inspect_history" not in result.stderr and "setting up dspy.LM" not in result.stderr
    assert result.stderr.count("Raise --max-tokens") == 1 and "r.traces.jsonl" in result.stderr
    assert summary_row(result.stdout, "Replies cut at max_tokens") == ["2 in 2 / 2 runs"]


def test_a_resumed_invocation_waits_for_the_server_before_its_first_run(tmp_path):
    # Ctrl-C leaves the request in flight to a local server, which may go on generating it: the resumed
    # invocation makes sure the server is idle before its first run's clock starts.
    args = ["--model", "openai/oracle", "--approaches", "react_v2", "--timeout", "60"]
    with OpenAICompatibleServer() as server:
        first = run_script([*args, "--api-base", server.url, "--runs", "1", "--output", "r.json"], tmp_path)
        assert first.returncode == 0, first.stderr[-2000:]
        before = len(server.served)
        resumed = run_script([*args, "--api-base", server.url, "--runs", "2", "--resume", "r.jsonl"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert server.served[before].max_tokens == 1
    _, second = _records(tmp_path / "r.json")
    assert second["idle_wait"]["after"] == ["the invocation this one resumes"] and second["idle_wait"]["confirmed"]


def test_a_context_length_error_is_context_window_in_every_arm_never_retried_and_kept_off_stderr(tmp_path):
    with OpenAICompatibleServer(faults=always("context_length")) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "2",
                             "--approaches", "react,rlm,react_v2", "--output", "r.json"], tmp_path)
        served = len(server.requests)
    assert result.returncode == 0, result.stderr[-2000:]
    by = {r["approach"]: r for r in _records(tmp_path / "r.json")}
    assert {a: r["failure"]["category"] for a, r in by.items()} == dict.fromkeys(by, "context_window")
    assert by["rlm"]["lm_calls"] == 1 and served == sum(r["lm_calls"] for r in by.values())  # none retried
    assert by["react"]["diagnostics"]["trajectories_truncated"]  # DSPy's ReAct cut its trajectory and asked again
    assert summary_row(result.stdout, "Trajectories truncated to fit the window")[1] == "n/a"  # RLM cannot
    assert "Traceback" not in result.stderr and result.stderr.count("dspy_log") == 1
    traces = {t["approach"]: t for t in map(json.loads, (tmp_path / "r.traces.jsonl").read_text().splitlines())}
    assert any("Traceback" in entry["message"] for entry in traces["react"]["dspy_log"])
