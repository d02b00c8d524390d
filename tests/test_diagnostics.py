"""What a real model does to the summary, reproduced with scripted replies over real HTTP.

Each scripted failure is one the benchmark saw from a real small model (Qwen2.5-Coder-1.5B):
tools shadowed by the model's own code, one cell repeated for every iteration, no tool call at
all, a finding reported from the model's own knowledge, the same tool call over and over, a reply
cut at max_tokens, a reply DSPy had to re-ask for. Real DSPy modules, the real sandbox, the
tests' own OpenAI-compatible server; the assertions are on the rows and diagnostics a user reads.
"""

import json

import dspy
from helpers import header, run_script, summary_row

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.models import build_lm
from rlmbench.lm.oracle.server import OpenAICompatibleServer
from rlmbench.lm.settings import ModelSettings
from rlmbench.report.tables import model_section
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.scoring.diagnostics import assigned_names
from rlmbench.tasks.behaviour import ToolSettings
from rlmbench.tasks.task import Case
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")
CASE = Case({"medications": ["warfarin", "aspirin", "metformin"], "conditions": ["chronic_kidney_disease"]})

SHADOWING_CELL = '''def check_contraindication(drug, condition):
    return False  # Placeholder
def get_drug_class(drug):
    return "unknown"
for drug in []:
    print(check_contraindication(drug, "x"))
print("done")'''


def _bench(server, approaches, config, tool_settings=ToolSettings()):
    lm = build_lm(ModelSettings(model="openai/qwen", api_base=server.url, retries=0), DRUGS.schema)
    with dspy.context(lm=lm, track_usage=True):
        records, _ = run_benchmark(DRUGS, approaches, 1, [ModelRun("qwen", lm)], config, case=CASE,
                                   tool_settings=tool_settings)
    return records


def _summary(records, approaches):
    meta = header(DRUGS, approaches, ModelSettings(model="openai/qwen", api_base="http://127.0.0.1:9/v1"))
    return model_section(records, meta, DRUGS.schema, meta.models[0]).text()


def _rlm_that_shadows_its_tools(body, system, user):
    if "`code`" in system:  # every action: the same cell, which redefines two tools and calls none
        return f"[[ ## reasoning ## ]]\nDefine helpers.\n\n[[ ## code ## ]]\n```python\n{SHADOWING_CELL}\n```\n\n[[ ## completed ## ]]"
    if "`interactions`" in system:  # DSPy's extract after the last iteration: an answer from memory
        return ("[[ ## risk_assessment ## ]]\nWarfarin and aspirin interact.\n\n"
                '[[ ## interactions ## ]]\n[{"drug_a": "warfarin", "drug_b": "aspirin", "severity": "major"}]\n\n'
                "[[ ## pairs_without_interaction ## ]]\n[]\n\n[[ ## contraindications ## ]]\n[]\n\n"
                "[[ ## overall_risk ## ]]\nlow\n\n[[ ## completed ## ]]")
    return None


def test_an_rlm_that_shadows_its_tools_and_never_checks_is_shown_for_what_it_did():
    with OpenAICompatibleServer(_rlm_that_shadows_its_tools) as server:
        (record,) = _bench(server, ["rlm"], ApproachConfig(rlm_max_iters=3))
    d = record.diagnostics
    assert record.ok and not record.complete and record.coverage.tool_calls == 0
    assert d.code_cells == 3 and d.cells_shadowing_tools == [1, 2, 3]
    assert d.shadowed_tools == ["check_contraindication", "get_drug_class"]
    assert d.cells_repeated == [2, 3] and d.cells_failed == [] and d.submitted is False
    assert (d.steps_used, d.step_limit) == (3, 3)
    score = record.answer_score.of("check_drug_interaction")
    assert score.found == 1 and score.reported_unchecked == 1  # "right", but never looked up
    out = _summary([record], ["rlm"])
    assert out.index("Complete runs (no error, every check made)") < out.index("Completed without error")
    assert summary_row(out, "Complete runs (no error, every check made)") == ["0 / 1 [0%, 79%]"]
    assert summary_row(out, "Completed without error") == ["1 / 1 [21%, 100%]"]
    assert summary_row(out, "No tool call at all") == ["1 / 1"]
    # Perfect by definition, never looked up: the row beside it says so.
    assert summary_row(out, "Interactions: recall / precision") == ["100% / 100%"]
    assert summary_row(out, "Reported without a check") == ["1"]
    assert summary_row(out, "Code cells that shadow a tool") == ["3 in 1 / 1 runs"]
    assert summary_row(out, "Code cells repeated unchanged") == ["2 in 1 / 1 runs"]
    assert summary_row(out, "SUBMIT / final_answer never called") == ["1 in 1 / 1 runs"]


def _react_stuck_on_one_call(body, system, user):
    if "`next_tool_name`" in system:
        first = user.count("[[ ## tool_name_") == 0
        reply = ("[[ ## next_thought ## ]]\nCheck warfarin and aspirin.\n\n[[ ## next_tool_name ## ]]\n"
                 'check_drug_interaction\n\n[[ ## next_tool_args ## ]]\n{"drug_a": "warfarin", "drug_b": "aspirin"}'
                 "\n\n[[ ## completed ## ]]")
        return {"content": reply, "finish_reason": "length" if first else "stop"}
    return None


def test_a_react_run_repeating_one_call_and_cut_at_max_tokens_is_counted():
    with OpenAICompatibleServer(_react_stuck_on_one_call) as server:
        (record,) = _bench(server, ["react"], ApproachConfig(react_max_iters=4))
    d = record.diagnostics
    assert record.coverage.tool_calls == 4 and d.repeated_tool_calls == [2, 3, 4]
    assert d.truncated_replies == [1] and (d.steps_used, d.step_limit) == (4, 4)
    out = _summary([record], ["react"])
    assert summary_row(out, "Repeated identical tool calls") == ["3 in 1 / 1 runs"]
    assert summary_row(out, "Replies cut at max_tokens") == ["1 in 1 / 1 runs"]
    assert summary_row(out, "Steps used / limit") == ["4/4"]
    assert summary_row(out, "Code cells that shadow a tool") == ["n/a"]  # ReAct has no code cells


def _prose_first_then_oracle(body, system, user):
    if "`next_tool_name`" in system and "[[ ## tool_name_" not in user and "Respond with a JSON object" not in user:
        return "I will now check the medications one by one."  # fits no format: DSPy re-asks in JSON
    if "`next_tool_name`" in system and user.count("[[ ## tool_name_") == 1:
        return ("[[ ## next_thought ## ]]\nWrong argument names.\n\n[[ ## next_tool_name ## ]]\n"
                'check_drug_interaction\n\n[[ ## next_tool_args ## ]]\n{"first": "warfarin", "second": "aspirin"}'
                "\n\n[[ ## completed ## ]]")
    return None


def test_a_reply_that_was_re_asked_and_a_call_with_bad_arguments_are_counted():
    with OpenAICompatibleServer(_prose_first_then_oracle) as server:
        (record,) = _bench(server, ["react"], ApproachConfig(react_max_iters=10))
    d = record.diagnostics
    assert record.ok and d.reasked == [2]  # the second request re-asked for the first step in JSON
    assert d.tool_errors == [2]  # step 2 called the tool with arguments it does not take
    out = _summary([record], ["react"])
    assert summary_row(out, "Replies re-asked (parse failed)") == ["1 in 1 / 1 runs"]
    assert summary_row(out, "Tool errors (bad arguments, no such tool)") == ["1 in 1 / 1 runs"]


def _react_v2_unknown_tool(body, system, user):
    if "`tool_calls`" in system and "check_everything" not in json.dumps(body["messages"][1:]):
        return ('[[ ## next_thought ## ]]\nOne call for all.\n\n[[ ## tool_calls ## ]]\n'
                '{"tool_calls": [{"name": "check_everything", "args": {}}]}\n\n[[ ## completed ## ]]')
    return None


def test_a_react_v2_call_to_a_tool_that_does_not_exist_is_named():
    with OpenAICompatibleServer(_react_v2_unknown_tool) as server:
        (record,) = _bench(server, ["react_v2"], ApproachConfig(react_max_iters=5))
    assert record.diagnostics.unknown_tools == ["check_everything"] and record.diagnostics.tool_errors == [1]
    assert record.complete  # the oracle then made every check


def test_cells_name_what_they_bind():
    assert assigned_names(SHADOWING_CELL) >= {"check_contraindication", "get_drug_class", "drug"}
    assert assigned_names("import check_drug_interaction as x\nfrom m import y") == {"x", "y"}
    assert assigned_names("this is not python (") == set()


def test_a_failed_run_keeps_every_lm_call_in_its_trace(tmp_path):
    def fail_third(n, body, system, user):
        return "server_error" if n == 3 else None

    with OpenAICompatibleServer(faults=fail_third) as server:
        result = run_script(["--model", "openai/qwen", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "react", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (trace,) = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    assert "trajectory" not in trace  # DSPy's ReAct loses its steps when it raises
    calls = trace["lm_calls"]
    assert [c["index"] for c in calls] == [1, 2, 3]
    assert calls[0]["reply"].startswith("[[ ## next_thought ## ]]") and calls[0]["finish_reason"] == "stop"
    assert calls[0]["prompt_tokens"] > 0 and calls[0]["request_chars"] > 1000
    assert calls[2]["reply"] is None and "InternalServerError" in calls[2]["error"]
    assert len(trace["tool_calls"]) == 2


def test_the_oracle_runs_every_arm_in_the_prose_form(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--answer", "prose", "--output", "p.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "answer form: prose" in out and "Answer form prose (--answer prose)" in out
    assert summary_row(out, "Complete runs (no error, every check made)") == ["1 / 1 [21%, 100%]"] * 4
    assert summary_row(out, "Interactions: recall / precision") == ["n/a"] * 4
    assert summary_row(out, "LM calls per run") == ["37", "2", "39", "2"]
    records = json.loads((tmp_path / "p.json").read_text())["records"]
    assert all(r["answer_score"] is None and r["narrative"] for r in records)


def test_live_progress_goes_to_stderr_as_plain_lines_when_not_a_terminal(tmp_path):
    def slow(body, system, user):
        import time
        time.sleep(0.7)
        return None

    with OpenAICompatibleServer(slow) as server:  # 10 slow requests: longer than the 2 s before a run's first line
        result = run_script(["--model", "openai/qwen", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", "react", "--react-max-iters", "8", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    live = [line for line in result.stderr.splitlines() if line.startswith("  ... openai/qwen: ReAct 1/1 on drugs: ")]
    assert live and "checks " in live[0] and "LM calls " in live[0] and "steps " in live[0] and "/8" in live[0]
    assert "... ReAct" not in result.stdout and "\x1b[" not in result.stderr


def _rlm_writing_prose_as_code(body, system, user):
    if "`code`" in system:
        return ("[[ ## reasoning ## ]]\nExplain.\n\n[[ ## code ## ]]\n```python\nFirst I will check every pair, "
                "then (maybe) the conditions.\n```\n\n[[ ## completed ## ]]")
    return _rlm_that_shadows_its_tools(body, system, user)


def test_a_code_cell_that_is_not_python_is_a_recorded_diagnostic_not_a_crash():
    with OpenAICompatibleServer(_rlm_writing_prose_as_code) as server:
        (record,) = _bench(server, ["rlm"], ApproachConfig(rlm_max_iters=2))
    assert record.ok and record.diagnostics.code_cells == 2
    assert record.diagnostics.cells_failed == [1, 2] and record.diagnostics.cells_repeated == [2]
    summary = _summary([record], ["rlm"])
    assert summary_row(summary, "Code cells that raised") == ["2 in 1 / 1 runs"]
    assert summary_row(summary, "Code cells that shadow a tool") == ["n/a"]  # no cell parsed: nothing to read
    assert record.diagnostics.cells_shadowing_tools is None


def test_an_arm_that_made_no_tool_call_shows_no_recovery_figure_where_tools_can_fail():
    with OpenAICompatibleServer(_rlm_that_shadows_its_tools) as server:
        (record,) = _bench(server, ["rlm"], ApproachConfig(rlm_max_iters=2), ToolSettings(failure_rate=0.5))
    assert record.coverage.tool_calls == 0
    summary = _summary([record], ["rlm"])
    assert summary_row(summary, "Transient failures: failed / recovered / lost") == ["not exercised: no call failed"]
    assert summary_row(summary, "Failed calls never retried to an answer") == ["n/a"]
    assert summary_row(summary, "Code cells that shadow a tool") == ["2 in 1 / 1 runs"]
