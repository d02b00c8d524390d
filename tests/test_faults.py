"""What a user sees when the provider misbehaves: faults served over real HTTP by the tests' own server.

Each test runs real DSPy modules through LiteLLM against `OpenAICompatibleServer` on 127.0.0.1,
with a fault plan deciding which requests fail and how.
"""

import os

import dspy
import pytest
from helpers import deno_children, header, summary_row

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.gated import TokenPacer
from rlmbench.lm.models import build_lm
from rlmbench.lm.oracle.roles import respond
from rlmbench.lm.oracle.server import HANGING_RLM_REPLY, OpenAICompatibleServer, always, every_other
from rlmbench.lm.settings import ModelSettings
from rlmbench.report.cells import hit_limit_cell
from rlmbench.report.tables import model_section
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.tasks.task import Case
from rlmbench.tasks.task_file import load_task

DRUGS = load_task("drugs")
CASE = Case({"medications": ["warfarin", "aspirin", "metformin"],
             "conditions": ["chronic_kidney_disease"]})  # 3 pairs, 3 condition checks
CONFIG = ApproachConfig(react_max_iters=10, rlm_max_iters=4)


def _section(records, approaches, model):
    meta = header(DRUGS, approaches, model, CONFIG)
    return model_section(records, meta, DRUGS.schema, meta.models[0]).text()


def _covered(record, tool="check_drug_interaction"):
    return record.coverage.of(tool).covered


def _bench(server, approaches, runs=1, retries=0, timeout=None, lm=None, concurrency=1):
    lm = lm or build_lm(ModelSettings(model="openai/oracle", api_base=server.url, retries=retries, timeout=timeout),
                        DRUGS.schema)
    with dspy.context(lm=lm, track_usage=True):
        records, interrupted = run_benchmark(DRUGS, approaches, runs, [ModelRun("m", lm, concurrency)], CONFIG,
                                             case=CASE, timeout=timeout)
    assert not interrupted
    return records


@pytest.mark.parametrize("fault, category", [
    ("rate_limited", "rate_limited"),
    ("rate_limited_bare", "rate_limited"),
    ("server_error", "server_error"),
    ("malformed_json", "server_error"),
    ("empty_content", "parse_error"),
    ("bad_format", "parse_error"),
])
def test_a_fault_without_retries_is_a_failed_run_with_its_category(fault, category):
    with OpenAICompatibleServer(faults=always(fault)) as server:
        (record,) = _bench(server, ["react"])
    assert record.ok is False
    assert record.failure.category == category, record.failure
    assert record.coverage.tool_calls == 0
    if category == "parse_error":  # the reply arrived and was paid for: its usage is counted
        assert record.lm_calls >= 1 and record.prompt_tokens > 0
    else:  # the request was sent and failed: it counts, marked failed, with no tokens
        assert record.lm_calls == record.lm_calls_failed == 1 and record.prompt_tokens == 0


@pytest.mark.parametrize("fault", ["rate_limited", "server_error"])
def test_a_transient_fault_is_retried_and_the_run_recovers(fault):
    with OpenAICompatibleServer(faults=lambda n, *_: fault if n == 1 else None) as server:
        (record,) = _bench(server, ["react"], retries=2)
        assert server.faults_served == [fault]
    assert record.ok, record.failure
    assert _covered(record) == 3 and _covered(record, "check_contraindication") == 3
    assert len(server.requests) == record.lm_calls and record.lm_calls_failed == 1  # every request counts


def test_half_the_requests_failing_still_accounts_for_every_run():
    with OpenAICompatibleServer(faults=every_other("server_error")) as server:
        records = _bench(server, ["react", "rlm", "hybrid"], runs=2)
    assert sorted((r.approach, r.run) for r in records) == [
        ("hybrid", 1), ("hybrid", 2), ("react", 1), ("react", 2), ("rlm", 1), ("rlm", 2)]
    failed = [r for r in records if not r.ok]
    assert failed and all(r.failure.category == "server_error" for r in failed)
    summary = _section(records, ["react", "rlm", "hybrid"], ModelSettings(model="openai/oracle", api_base=server.url))
    assert "Failures by category" in summary and "server_error" in summary


def test_a_hung_provider_ends_the_run_as_timeout_and_the_next_run_goes_on():
    # The budget is wide against the healthy run (two LM calls, well under a second): only the hung
    # request, which never answers until the client leaves, can reach it, however busy the machine is.
    with OpenAICompatibleServer(faults=lambda n, *_: "hang" if n == 1 else None) as server:
        first, second = _bench(server, ["rlm"], runs=2, timeout=10)
    assert first.failure.category == "timeout", first.failure
    assert second.ok, second.failure


def _infinite_loop_once():
    served = []

    def behaviour(body, system, user):
        if "`code`" in system and not served:
            served.append(1)
            return HANGING_RLM_REPLY
        return None
    return behaviour


def test_a_hung_sandbox_ends_the_run_as_timeout_and_leaves_no_deno_process():
    with OpenAICompatibleServer(_infinite_loop_once()) as server:
        first, second = _bench(server, ["rlm"], runs=2, timeout=10)  # the healthy run takes well under 1 s
        lm_calls_at_timeout = first.lm_calls
    assert first.failure.category == "timeout", first.failure
    assert lm_calls_at_timeout == 1  # the abandoned run made no further LM calls
    assert second.ok and _covered(second) == 3, second.failure
    # Its steps are counted from its cells (the trace never came back); whether it would have hit its
    # limit is unknown, and the summary says so instead of counting it as "no".
    assert (first.diagnostics.steps_used, first.diagnostics.steps_from_log) == (1, True)
    assert first.diagnostics.hit_step_limit is None
    assert hit_limit_cell([first, second]) == "0 / 1 (1 timed out: n/a)"
    assert deno_children(os.getpid()) == []


def _escape_attempt_first(secret_name):
    served = []
    code = (f"import os\nfor attempt in (lambda: open('/etc/hostname').read(), lambda: os.environ['{secret_name}'],\n"
            "                lambda: __import__('js').Deno.env.get('" + secret_name + "')):\n"
            "    try:\n        print('GOT', attempt())\n    except Exception as e:\n        print('DENIED', type(e).__name__)\n")

    def behaviour(body, system, user):
        if "`code`" in system and not served:  # the oracle's first cell, with the probe in front of it
            served.append(1)
            return respond(DRUGS.schema, system, user).replace("```python\n", "```python\n" + code, 1)
        return None
    return behaviour


def test_model_code_probing_the_host_is_an_error_inside_the_run_not_a_crash(monkeypatch):
    monkeypatch.setenv("RLMBENCH_TEST_SECRET", "s3cret-value")
    with OpenAICompatibleServer(_escape_attempt_first("RLMBENCH_TEST_SECRET")) as server:
        (record,) = _bench(server, ["rlm"])
        probe_reply = next(b for b in server.requests[1:] if "DENIED" in str(b["messages"]))
    assert record.ok and _covered(record) == 3, record.failure
    assert str(probe_reply["messages"]).count("DENIED") >= 3
    assert "s3cret-value" not in str(server.requests)


def test_tpm_pacing_waits_instead_of_exceeding_the_budget():
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    lm.pacer = TokenPacer(2500, window_s=1.0)  # the oracle's RLM calls are ~1,500 tokens each
    (record,) = _bench(None, ["rlm"], lm=lm)
    assert record.ok and record.lm_calls == 2
    assert record.pacing_wait_s > 0  # the second call had to wait for the window to clear
    assert record.wall_time_s >= record.pacing_wait_s
    (wait,) = summary_row(_section([record], ["rlm"], ModelSettings(model="oracle", tokens_per_minute=2500)),
                          "Pacing wait (--tpm), in wall time")
    assert wait.endswith("s (n=1, no sd)") and float(wait.split()[0]) > 0


def test_concurrent_runs_each_get_their_own_record_and_sandbox():
    lm = build_lm(ModelSettings(model="oracle"), DRUGS.schema)
    records = _bench(None, ["rlm"], runs=2, lm=lm, concurrency=2)
    assert sorted(r.run for r in records) == [1, 2]
    assert all(r.ok and _covered(r) == 3 for r in records)


def test_a_providers_rate_limit_wrapped_by_another_framework_is_still_rate_limited():
    from dspy.utils.exceptions import LMRateLimitError

    from rlmbench.run.failures import classify_failure

    class AgentGenerationError(Exception):
        """As a framework wraps the model's error in its own."""

    try:
        try:
            raise LMRateLimitError("429 Too Many Requests", model="m")
        except LMRateLimitError as inner:
            raise AgentGenerationError("Error in generating model output") from inner
    except AgentGenerationError as outer:
        assert classify_failure(outer) == "rate_limited"
    assert classify_failure(RuntimeError("x")) == "error"
    assert classify_failure(KeyError("x"), own=(("mine", (KeyError,)),)) == "mine"  # an arm's own, first


def test_a_tool_call_started_after_the_runs_budget_raises_at_once():
    from rlmbench.lm.gated import RunCancelled
    from rlmbench.run.control import RunControl

    control, calls = RunControl(), []
    tool = control.timed_tool(lambda drug: calls.append(drug) or "fine")
    assert tool("warfarin") == "fine"
    control.cancel()
    with pytest.raises(RunCancelled):
        tool("aspirin")
    assert calls == ["warfarin"]
