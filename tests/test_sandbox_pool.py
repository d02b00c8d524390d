"""The warm sandbox pool: fresh interpreters, boot kept out of the run, nothing left running."""

import os

import dspy
import pytest
from helpers import deno_children

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.models import build_lm
from rlmbench.lm.settings import ModelSettings
from rlmbench.run.runner import run_once
from rlmbench.sandbox.interpreter import SandboxSupply, TimedInterpreter
from rlmbench.tasks.task import Case
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")
CASE = Case({"medications": ["warfarin", "aspirin", "metformin"], "conditions": ["chronic_kidney_disease"]})


@pytest.fixture(scope="module")
def oracle_lm():
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    with dspy.context(lm=lm):
        yield lm


def test_each_run_gets_a_fresh_interpreter_and_close_leaves_no_deno(oracle_lm):
    with SandboxSupply(warm=True) as supply:
        supply.reserve()
        first = supply()
        first.execute("leaked = 'from the previous run'")
        first.shutdown()
        supply.reserve()
        second = supply()
        assert second is not first
        assert "NameError" in str(pytest.raises(Exception, second.execute, "print(leaked)").value)
        second.shutdown()
        supply.reserve()  # one more booted and set aside, never handed out: close must stop it
        assert deno_children(os.getpid())
    assert deno_children(os.getpid()) == []


def test_warm_runs_record_the_boot_outside_the_wall_time(oracle_lm):
    with SandboxSupply(warm=True) as supply:
        record, _ = run_once(DRUGS, "rlm", 1, oracle_lm, ApproachConfig(), CASE, sandboxes=supply)
    assert record.ok and record.coverage.of("check_drug_interaction").covered == 3
    assert record.sandbox_boot_s > 0 and record.sandbox_boot_in_wall_time is False
    assert record.sandbox_wait_s is not None
    assert deno_children(os.getpid()) == []


def test_cold_runs_record_the_boot_inside_the_wall_time(oracle_lm):
    with SandboxSupply(warm=False) as supply:
        record, _ = run_once(DRUGS, "hybrid", 1, oracle_lm, ApproachConfig(), CASE, sandboxes=supply)
    assert record.ok and record.sandbox_boot_in_wall_time is True
    assert 0 < record.sandbox_boot_s < record.wall_time_s
    assert deno_children(os.getpid()) == []


def test_a_sandbox_that_fails_to_boot_is_a_recorded_run_failure(oracle_lm, monkeypatch):
    def broken_start(self):
        raise RuntimeError("deno exploded")

    monkeypatch.setattr(TimedInterpreter, "start", broken_start)
    with SandboxSupply(warm=True) as supply:
        record, _ = run_once(DRUGS, "rlm", 1, oracle_lm, ApproachConfig(), CASE, sandboxes=supply)
        react, _ = run_once(DRUGS, "react", 2, oracle_lm, ApproachConfig(), CASE, sandboxes=supply)
    assert not record.ok and record.failure.category == "sandbox_error"
    assert "deno exploded" in record.failure.message
    assert react.ok
    assert deno_children(os.getpid()) == []


def test_a_timed_out_run_still_reports_the_boot_of_its_sandbox():
    from rlmbench.lm.oracle.server import HANGING_RLM_REPLY, OpenAICompatibleServer
    from rlmbench.run.runner import ModelRun, run_benchmark

    def loop_forever(body, system, user):
        if "`code`" in system:
            return HANGING_RLM_REPLY
        return None

    with OpenAICompatibleServer(loop_forever) as server, SandboxSupply(warm=True) as supply:
        lm = build_lm(ModelSettings(model="openai/x", api_base=server.url, retries=0), DRUGS.schema)
        traces = []
        (record,), _ = run_benchmark(DRUGS, ["rlm"], 1, [ModelRun("x", lm)], ApproachConfig(), case=CASE,
                                     sandboxes=supply, timeout=5, on_record=lambda r, trace: traces.append(trace))
    (cell,) = traces[0]["code_cells"]
    assert cell["returned"] is False and "while True" in cell["code"]
    assert record.failure.category == "timeout"
    assert record.sandbox_boot_s > 0 and record.sandbox_boot_in_wall_time is False
    assert record.diagnostics.code_cells == 1  # the cell that never returned is in the record
