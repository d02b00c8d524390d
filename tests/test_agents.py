"""Your own agent as an arm (--agent): the native tool-calling example, an agent that speaks HTTP with no SDK, one
that streams, a request cut at the run's budget, and every bad --agent in one line."""

import json
import urllib.error
import urllib.request

import pytest
from helpers import ROOT, run_script, summary_row
from user_tasks import covered, records

from rlmbench.lm.oracle.server import OpenAICompatibleServer

NATIVE = str(ROOT / "examples" / "agents" / "native_tools.py")

PLAIN_HTTP_AGENT = '''
import json, urllib.request


def _post(task, body):
    request = urllib.request.Request(task.base_url + "/chat/completions", data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + task.api_key,
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read())


def run(task):
    """Native tool calls over plain HTTP, one call a turn."""
    tools = {t.__name__: t for t in task.tools}
    messages = [{"role": "user", "content": task.prompt}]
    while True:
        message = _post(task, {"model": task.model, "messages": messages, "tools": task.tool_schemas,
                               "parallel_tool_calls": False,
                               "response_format": {"type": "json_schema",
                                                   "json_schema": {"name": "answer", "schema": task.answer_schema}}}
                        )["choices"][0]["message"]
        if not message.get("tool_calls"):
            return json.loads(message["content"])
        messages.append(message)
        for call in message["tool_calls"]:
            try:
                result = tools[call["function"]["name"]](**json.loads(call["function"]["arguments"]))
            except Exception as exc:  # the model is told, and retries
                result = f"Error: {type(exc).__name__}: {exc}"
            messages.append({"role": "tool", "tool_call_id": call["id"],
                             "content": result if isinstance(result, str) else json.dumps(result)})
'''

STREAMING_AGENT = '''
import json
from openai import OpenAI


def run(task):
    """Native tool calls, every reply streamed."""
    client = OpenAI(base_url=task.base_url, api_key=task.api_key, max_retries=0)
    tools = {t.__name__: t for t in task.tools}
    messages = [{"role": "user", "content": task.prompt}]
    while True:
        content, calls = "", {}
        for chunk in client.chat.completions.create(model=task.model, messages=messages, tools=task.tool_schemas,
                                                    stream=True):
            delta = chunk.choices[0].delta if chunk.choices else None
            content += (delta and delta.content) or ""
            for call in (delta and delta.tool_calls) or []:
                calls.setdefault(call.index, call)
        if not calls:
            return json.loads(content)
        calls = [calls[i] for i in sorted(calls)]
        messages.append({"role": "assistant", "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in calls]})
        for c in calls:
            try:
                result = tools[c.function.name](**json.loads(c.function.arguments))
            except Exception as exc:  # the model is told, and retries
                result = f"Error: {type(exc).__name__}: {exc}"
            messages.append({"role": "tool", "tool_call_id": c.id,
                             "content": result if isinstance(result, str) else json.dumps(result)})
'''


def test_the_native_example_makes_every_check_beside_rlm_and_its_lm_calls_are_the_requests_served(tmp_path):
    result = run_script(["--model", "oracle", "--approaches", "rlm", "--agent", f"native={NATIVE}:run",
                         "--runs", "1", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    by_arm = {r["approach"]: r for r in records(tmp_path / "r.json")["records"]}
    assert by_arm["rlm"]["ok"] and covered(by_arm["rlm"]) == (35, 35)
    native = by_arm["native"]
    assert native["ok"] and covered(native) == (35, 35)
    assert all(t["found"] == t["true"] == t["reported"] for t in native["answer_score"]["tools"])
    trace = next(json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()
                 if json.loads(line)["approach"] == "native")
    assert native["lm_calls"] == trace["endpoint_requests"] == len(trace["lm_calls"]) == 2
    assert "native is your agent (" in result.stdout and "Offline oracle model" in result.stdout
    assert summary_row(result.stdout, "Complete runs (no error, every check made)") == ["1 / 1 [21%, 100%]"] * 2


@pytest.mark.parametrize("agent", [PLAIN_HTTP_AGENT, STREAMING_AGENT], ids=["plain_http", "streaming"])
def test_an_agent_with_no_sdk_and_one_that_streams_both_work(agent, tmp_path):
    (tmp_path / "my_agent.py").write_text(agent)
    result = run_script(["--model", "oracle", "--approaches", "react_v2", "--agent", "mine=my_agent:run",
                         "--runs", "1", "--output", "r.json", "--task", "drugs_realistic"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    mine = next(r for r in records(tmp_path / "r.json")["records"] if r["approach"] == "mine")
    assert mine["ok"] and covered(mine) == (35, 35), mine["failure"]
    assert mine["coverage"]["follow_ups"][0]["made"] == 4 and mine["answer_score"]["values_exact"] == 4
    recovery = mine["coverage"]["recovery"]
    assert recovery["failures"] > 0 and recovery["recovered"] == recovery["failures"]


SANDBOX_AGENT = '''
import os

os.environ["MY_AGENT_SECRET"] = "sk-agent-secret"


def run(task):
    """Code that loops over every pair in the benchmark's sandbox, as a code agent's model would write it."""
    interpreter = task.sandbox()
    try:
        code = ("import os\\nfound = []\\n"
                "for i, a in enumerate(medications):\\n    for b in medications[i + 1:]:\\n"
                "        found.append(check_drug_interaction(drug_a=a, drug_b=b))\\n"
                "print(len(found), os.environ.get('MY_AGENT_SECRET'))")
        printed = interpreter.execute(code, {"medications": task.inputs["medications"]})
    finally:
        interpreter.shutdown()
    return f"The sandbox printed: {printed}"


run.sandbox = True
'''


def test_your_agent_may_run_its_code_in_the_benchmarks_sandbox(tmp_path):
    (tmp_path / "code_agent.py").write_text(SANDBOX_AGENT)
    result = run_script(["--model", "oracle", "--approaches", "rlm", "--agent", "coder=code_agent:run", "--runs", "1",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    coder = next(r for r in records(tmp_path / "r.json")["records"] if r["approach"] == "coder")
    assert coder["ok"] and coder["coverage"]["tools"][0]["covered"] == 21  # every pair, through the ledger
    assert coder["narrative"] == "The sandbox printed: 21 None\n"  # the host's environment stays outside
    assert coder["diagnostics"]["code_cells"] == 1 and coder["sandbox_boot_s"] is not None
    assert summary_row(result.stdout, "Code cells that raised")[1] == "0"


def _hangs_on_the_agents_first_request():
    hung = []

    def fault(number, body, system, user):
        if body.get("tools") and not hung:  # a native tool-calling request: the agent's, not DSPy's
            hung.append(number)
            return "hang"
        return None
    return fault


def test_the_runs_budget_cuts_the_agents_request_in_flight_and_the_next_run_does_not_pay_for_it(tmp_path):
    with OpenAICompatibleServer(faults=_hangs_on_the_agents_first_request()) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--retries", "0",
                             "--approaches", "react_v2", "--agent", f"native={NATIVE}:run", "--runs", "2",
                             "--timeout", "4", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    native = [r for r in records(tmp_path / "r.json")["records"] if r["approach"] == "native"]
    cut, after = sorted(native, key=lambda r: r["run"])
    assert cut["ok"] is False and cut["failure"]["category"] == "timeout"
    assert cut["lm_calls"] == cut["lm_calls_cut"] == 1
    traces = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    (cut_call,) = next(t for t in traces if t["approach"] == "native" and t["run"] == 1)["lm_calls"]
    assert cut_call["cancelled"] and cut_call["request_chars"] > 500  # the task as text: the request in flight
    # The next run started after the server had finished the cut request: the wait is its own, outside its clock.
    assert after["ok"] and covered(after) == (35, 35)
    assert after["idle_wait"]["after"] == ["native 1"] and after["idle_wait"]["confirmed"]


def _post(endpoint, token: str) -> tuple[int, str]:
    request = urllib.request.Request(endpoint.base_url + "/chat/completions", data=b'{"messages": []}',
                                     headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, ""
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())["error"]["message"]


def test_a_runs_key_is_refused_after_its_budget_and_once_its_run_has_ended():
    from types import SimpleNamespace

    from rlmbench.lm.metered import OracleUpstream
    from rlmbench.run.control import RunControl
    from rlmbench.run.endpoint import MeteredEndpoint
    from rlmbench.tasks.task_file import load_task

    lm = SimpleNamespace(upstream=OracleUpstream(load_task("drugs").schema), pacer=None, retries=0)
    with MeteredEndpoint() as endpoint:
        ended, cut = RunControl(), RunControl()
        token = endpoint.open_run(ended, lm, "oracle")
        assert endpoint.close_run(token) == 0
        code, message = _post(endpoint, token)
        assert code == 408 and "this run has ended" in message
        token = endpoint.open_run(cut, lm, "oracle")
        cut.cancel()  # the run's budget ran out
        code, message = _post(endpoint, token)
        assert code == 408 and "RunCancelled" in message and cut.lm_calls == []  # refused before it was sent
        assert _post(endpoint, "sk-the-users-real-key")[0] == 401


@pytest.mark.parametrize("agent, files, expected", [
    ("mine=no_such_module:run", {}, "--agent mine=no_such_module:run: cannot import 'no_such_module': "
                                    "ModuleNotFoundError"),
    ("mine=broken:run", {"broken.py": "import nothing_here\n"}, "--agent mine=broken:run: cannot import 'broken': "
                                                                "ModuleNotFoundError"),
    ("mine=good:nope", {"good.py": "def run(task):\n    return ''\n"}, "--agent mine=good:nope: 'good' has no "
                                                                       "attribute 'nope'"),
    ("mine=noarg:run", {"noarg.py": "def run():\n    return ''\n"}, "--agent mine=noarg:run: noarg:run must take "
                                                                    "one argument (the AgentTask)"),
    ("rlm=good2:run", {"good2.py": "def run(task):\n    return ''\n"}, "--agent rlm=good2:run: the name 'rlm' is "
                                                                       "already an arm's"),
    ("mine=missing.py:run", {}, "--agent mine=missing.py:run: no such file 'missing.py'"),
    ("mine", {}, "--agent mine: give NAME=module:function or NAME=path/to/file.py:function"),
    ("my agent=good3:run", {"good3.py": "def run(task):\n    return ''\n"}, "--agent my agent=good3:run: the name "
                                                                           "'my agent' is not an identifier"),
])
def test_a_bad_agent_is_one_line_and_exit_2(agent, files, expected, tmp_path):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run_script(["--model", "oracle", "--agent", agent, "--runs", "1"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {expected}"), result.stderr
    assert "Traceback" not in result.stderr


def test_two_agents_may_not_share_a_name(tmp_path):
    (tmp_path / "twin.py").write_text("def run(task):\n    return ''\n")
    result = run_script(["--model", "oracle", "--agent", "a=twin:run", "--agent", "a=twin:run"], tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: --agent a=twin:run: the name 'a' is already an arm's; choose another")


def test_a_resume_asks_for_your_agent_again_and_then_continues_it(tmp_path):
    first = run_script(["--model", "oracle", "--approaches", "react_v2", "--agent", f"native={NATIVE}:run",
                        "--runs", "1", "--output", "r.json"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    refused = run_script(["--resume", "r.jsonl", "--runs", "2"], tmp_path)
    assert refused.returncode == 2 and refused.stderr.strip() == (
        "error: --resume: the invocation ran your agent 'native'; give --agent native=SPEC again to continue it")
    resumed = run_script(["--resume", "r.jsonl", "--runs", "2", "--agent", f"native={NATIVE}:run"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert sorted((r["approach"], r["run"]) for r in records(tmp_path / "r.json")["records"]) == [
        ("native", 1), ("native", 2), ("react_v2", 1), ("react_v2", 2)]


def test_an_endpoint_that_cannot_listen_is_one_line_and_no_results_file(tmp_path, monkeypatch):
    import rlmbench.run.endpoint as endpoint

    def no_port(*args, **kwargs):
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(endpoint, "ThreadingHTTPServer", no_port)
    result = run_script(["--model", "oracle", "--approaches", "rlm", "--agent", f"native={NATIVE}:run",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 2 and result.stderr.strip() == (
        "error: --agent: the metered model endpoint cannot listen on 127.0.0.1: Address already in use")
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.jsonl").exists()


@pytest.mark.parametrize("module, returned, problem", [
    ("wrong_shape", '{"risk_assessment": "fine", "interactions": "none"}',
     "the agent's answer does not fit the answer's schema: interactions: Input should be a valid list"),
    ("a_number", "42", "the agent returned int, not an answer (a dict of the answer's fields, or text)"),
])
def test_an_answer_that_is_not_one_fails_its_run_as_bad_answer_and_the_others_go_on(module, returned, problem,
                                                                                    tmp_path):
    (tmp_path / f"{module}.py").write_text(f"def run(task):\n    return {returned}\n")
    result = run_script(["--model", "oracle", "--approaches", "react_v2", "--agent", f"odd={module}:run",
                         "--runs", "1", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    by_arm = {r["approach"]: r for r in records(tmp_path / "r.json")["records"]}
    assert by_arm["react_v2"]["ok"] and by_arm["odd"]["answer_score"] is None
    assert by_arm["odd"]["failure"]["category"] == "bad_answer"
    assert by_arm["odd"]["failure"]["message"] == problem
