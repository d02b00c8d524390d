"""Tool answers the size real ones are (answer_tokens, --tool-answer-tokens): detail that never changes the finding,
the ledger's size of each answer, the answer-size sweep's growth per arm, and the cliff where a step-wise arm meets
the context window while a code arm makes every check."""

import json

import pytest
from helpers import run_script, summary_row
from user_tasks import covered, records, user_task

from rlmbench.lm.oracle.answers import statements
from rlmbench.lm.tokens import count_tokens
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import required_checks
from rlmbench.tasks.task_file import load_task
from rlmbench.tasks.tools import make_tools

TABLE_TOOL = 'args = ["a", "b"]\ndoc = "Check a pair."\nfindings = [{ items = ["alpha", "gamma"], severity = "high", details = "clash" }]'
"""user_task's pair tool answered by the task's own table (answer_tokens sizes these answers)."""
BUILT_IN = ["drugs", "drugs_realistic", "compliance", "security", "portfolio", "supply_chain", "test_matrix"]


def _answers(task, tokens: int, seed: int = 0) -> list:
    """Every required check's answer, at once and never failing (the task's own latency and failures aside)."""
    settings = ToolSettings(seed=seed, answer_tokens=tokens, latency=Latency(0), failure_rate=0.0)
    tools = {t.__name__: t for t in make_tools(task, settings=settings)}
    return [tools[c.tool](**c.args) for c in required_checks(task.schema, task.full_case().inputs)]


def _shown(answer) -> str:
    return answer if isinstance(answer, str) else json.dumps(answer)


@pytest.mark.parametrize("name, tokens", [(name, 1500 if name == "drugs" else 300) for name in BUILT_IN])
def test_detail_of_any_size_never_changes_what_an_answer_finds(name, tokens):
    task = load_task(name)
    bare, sized = _answers(task, 0), _answers(task, tokens)
    read = [statements(task.schema, _shown(a)) for a in bare]
    assert read == [statements(task.schema, _shown(a)) for a in sized]  # the oracle reads the same finding
    for plain, padded in zip(bare, sized):
        if isinstance(plain, dict):
            assert padded.items() >= plain.items() and len(padded) > len(plain)
        else:
            assert padded.split("\n")[0] == plain and padded.count("\n") >= 3  # the statement, then the record
        assert 0.8 * tokens <= count_tokens(_shown(padded)) - count_tokens(_shown(plain)) <= 1.2 * tokens
    assert _answers(task, tokens) == sized and _answers(task, tokens, seed=1) != sized  # fixed per check and --seed


def test_the_realistic_drug_task_answers_with_records(tmp_path):
    task = load_task("drugs_realistic")
    answer = _answers(task, task.schema.tool("check_drug_interaction").answer_tokens)[0]
    assert {"mechanism", "evidence", "monitoring", "references"} <= set(answer)
    assert 320 <= count_tokens(json.dumps(answer)) - count_tokens(json.dumps(_answers(task, 0)[0])) <= 480


@pytest.mark.parametrize("extra, message", [
    ('[answer_detail.fields]\nstatus = ["Reviewed."]', "answer_detail.fields.status: is a key of the answers"),
    ('[answer_detail.fields]\nnotes = ["About {2}."]', "may name the check's items only as {0} and {1}"),
    ('[answer_detail.fields]\nnotes = ["Dose: halve it."]', "holds ': ' or a double quote"),
    ('[behaviour]\nanswer_tokens = -3', "answer_tokens"),
])
def test_a_bad_answer_size_or_detail_in_a_task_file_is_one_line(tmp_path, extra, message):
    path = user_task(tmp_path, TABLE_TOOL, extra)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_answer_tokens_on_your_own_function_is_refused(tmp_path):
    (tmp_path / "my_tools.py").write_text("def check_pair(a, b):\n    return 'fine'\n")
    path = user_task(tmp_path, 'function = "my_tools:check_pair"\nanswer_tokens = 100')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path, timeout=60)
    assert result.returncode == 2 and "answer_tokens: pads the task's own answers" in result.stderr
    path = user_task(tmp_path, 'function = "my_tools:check_pair"')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--tool-answer-tokens", "100"],
                        tmp_path, timeout=60)
    assert result.returncode == 2 and "every tool of this task is your own code" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["--tool-answer-tokens", "abc"], "--tool-answer-tokens: not a whole number of tokens"),
    (["--tool-answer-tokens", "100,100"], "a size is given twice"),
    (["--tool-answer-tokens", "0,100", "--tool-latency", "0,25"], "sweep one tool behaviour at a time"),
    (["--tool-answer-tokens", "0,100", "--scale", "4x2"], "--tool-answer-tokens: a scale sweep runs at one value"),
])
def test_bad_answer_size_flags_are_one_line(tmp_path, args, message):
    result = run_script(["--model", "oracle", "--runs", "1", *args], tmp_path, timeout=60)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_a_sweep_of_answer_sizes_shows_each_arms_growth_and_the_ledger_counts_each_answer(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--approaches", "react,rlm", "--tool-answer-tokens",
                         "1000,0", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    document = records(tmp_path / "r.json")
    assert document["tools"]["answer_tokens_sweep"] == [0, 1000]
    assert {(r["approach"], r["tool_answer_tokens"], r["case"]) for r in document["records"]} == {
        (a, n, f"{n:,} tokens") for a in ("react", "rlm") for n in (0, 1000)}
    assert all(covered(r)[0] == covered(r)[1] for r in document["records"])
    text = " ".join(result.stdout.split())
    assert "answers every table tool, in turn 0, 1,000 tokens (--tool-answer-tokens)" in text
    assert "At 1,000 tokens, the largest answer size:" in text
    react, rlm = (float(summary_row(result.stdout, name)[0].lstrip("x")) for name in ("ReAct", "RLM Direct"))
    assert react > 5 and rlm < 1.2  # ReAct re-reads every answer at every step; the RLM's code keeps them
    assert summary_row(result.stdout, "ReAct")[1] == "never, up to 1,000"
    sizes = [c["answer_tokens"] for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()
             if (t := json.loads(line))["case"] == "1,000 tokens" for c in t["tool_calls"]]
    assert len(sizes) == 70 and all(900 <= n <= 1200 for n in sizes)  # the ledger's count of each answer


def test_at_the_window_a_step_wise_arm_overflows_and_a_code_arm_makes_every_check(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--approaches", "react,rlm,react_v2",
                         "--tool-answer-tokens", "0,1000", "--context-window", "16000", "--output", "r.json"], tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    at_size = {r["approach"]: r for r in records(tmp_path / "r.json")["records"] if r["tool_answer_tokens"] == 1000}
    assert at_size["rlm"]["ok"] and covered(at_size["rlm"]) == (35, 35)
    assert at_size["react_v2"]["failure"]["category"] == "context_window"  # every check in one turn, then refused
    assert at_size["react"]["diagnostics"]["trajectories_truncated"]  # DSPy's ReAct drops old calls to fit...
    assert covered(at_size["react"])[0] < 35  # ...and forgets what they found
    cliff = {arm: summary_row(result.stdout, arm)[1] for arm in ("ReAct", "RLM Direct", "ReActV2")}
    assert cliff["RLM Direct"] == "never, up to 1,000"
    assert cliff["ReActV2"].startswith("at 1,000: 1 / 1 runs (refused: 1, truncated: 0), 35 checks made first")
    assert cliff["ReAct"].startswith("at 1,000: 1 / 1 runs (refused: 0, truncated: 1)")
