"""The batch arm's call_many: results in order, a failed call's error in its place, bad input refused in the sandbox."""

import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from helpers import rlm_code_reply, run_against_server, summary_row

from rlmbench.agents.rlm_batch import make_call_many
from rlmbench.lm.oracle.code import batch_code
from rlmbench.scoring.ledger import ToolLedger
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task_file import load_task
from rlmbench.tasks.tools import make_tools

DRUGS = load_task("drugs")
PAIRS = [{"drug_a": a, "drug_b": b} for i, a in enumerate(DRUGS.data.items["medications"])
         for b in DRUGS.data.items["medications"][i + 1:]]


def test_call_many_keeps_the_order_and_puts_each_failed_calls_error_in_its_place():
    ledger = ToolLedger()
    tools = make_tools(DRUGS, ledger.record, ToolSettings(seed=0, failure_rate=0.3, latency=Latency(10, 10)))
    with ThreadPoolExecutor(8) as pool:
        results = make_call_many(tools, pool)("check_drug_interaction", PAIRS)
    assert len(results) == len(PAIRS) == len(ledger.calls)
    failed = [i for i, r in enumerate(results) if isinstance(r, dict)]
    assert failed and all(results[i]["error"].startswith("ToolUnavailableError: ") for i in failed)
    for pair, result in zip(PAIRS, results):  # each answer is its own check's, whatever order the pool ran them
        if isinstance(result, str):
            assert pair["drug_a"] in result and pair["drug_b"] in result
    outcomes = sorted(c.outcome for c in ledger.calls)
    assert outcomes.count("transient_failure") == len(failed)


def test_call_many_refuses_an_unknown_tool_and_arguments_that_are_not_a_list_of_dicts():
    call_many = make_call_many(make_tools(DRUGS), ThreadPoolExecutor(1))
    with pytest.raises(ValueError, match="no tool named 'nope'; tools: check_drug_interaction"):
        call_many("nope", [])
    with pytest.raises(ValueError, match="list_of_kwargs must be a list of dicts"):
        call_many("check_drug_interaction", [["warfarin", "aspirin"]])


def _bad_batch_first(body, system, user):
    """The sandboxed code first calls call_many wrongly, then does the work: the run must go on."""
    steps = len(re.findall(r"=== Step \d+ ===", user))
    if "`code`" in system and steps < 2:
        code = 'call_many("check_everything", [{}])' if steps == 0 else batch_code(DRUGS.schema, "call_many")
        return rlm_code_reply(code)
    return None


def test_a_bad_call_many_is_an_error_inside_the_sandbox_and_the_run_goes_on(tmp_path):
    result = run_against_server(_bad_batch_first, ["--approaches", "rlm_batch"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    (record,) = json.loads((tmp_path / "r.json").read_text())["records"]
    assert record["ok"] and record["diagnostics"]["cells_failed"] == [1]
    trace = json.loads((tmp_path / "r.traces.jsonl").read_text().splitlines()[0])
    assert "no tool named 'check_everything'" in trace["code_cells"][0]["error"]
    assert summary_row(result.stdout, "Coverage, medications pairs") == ["21/21"]
    assert "not DSPy's" in result.stdout
    assert not [t for t in threading.enumerate() if t.name.startswith("call_many")]  # the run's pool ended with it


def test_a_runs_batches_share_one_pool_of_eight_threads_started_once():
    """A batch pays its tools' waiting, not a pool's start-up: the run's threads serve every later batch."""
    seen = []

    def check(drug_a: str, drug_b: str) -> str:
        seen.append(threading.current_thread())
        return "fine"

    check.__name__ = "check"
    with ThreadPoolExecutor(8, thread_name_prefix="call_many") as pool:
        call_many = make_call_many([check], pool)
        for _ in range(4):
            call_many("check", PAIRS)
    assert len(seen) == 4 * len(PAIRS) and len(set(seen)) <= 8
