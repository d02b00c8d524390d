"""smolagents' CodeAgent and ToolCallingAgent as arms: real smolagents, its real OpenAI client against the metered
endpoint, the CodeAgent's code in the real Deno/Pyodide sandbox; the oracle plays both; scripted models show each
way a run goes wrong ending in its category; the verdict compares the frameworks."""

import json
import re

import pytest
from helpers import leak_catcher, run_against_server, run_script, summary_cells, summary_row
from user_tasks import covered, records

from rlmbench.agents.smol.executor import SandboxExecutor, SandboxLost
from rlmbench.agents.smol.tools import smol_tool
from rlmbench.lm.oracle.server import always
from rlmbench.sandbox.interpreter import SandboxSupply

SECRET = "sk-smol-secret-do-not-leak"
SMOL = "smol_code,smol_tools"


def _run_records(path):
    return [r for r in records(path)["records"]]


@pytest.mark.parametrize("task, lm_calls", [("drugs", ["2", "2"]), ("compliance", ["2", "3"])])
def test_both_arms_make_every_required_check_under_the_oracle(task, lm_calls, tmp_path):
    result = run_script(["--task", task, "--model", "oracle", "--runs", "1", "--approaches", SMOL,
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    for r in _run_records(tmp_path / "r.json"):
        made, required = covered(r)
        assert r["ok"] and made == required, (r["approach"], made, required, r.get("failure"))
    # The code's loop and its final_answer; the calls in one step (then the follow-ups in one more) and final_answer.
    assert summary_row(result.stdout, "LM calls per run") == lm_calls
    assert summary_row(result.stdout, "SUBMIT / final_answer never called") == ["0", "n/a"]
    assert "smolagents 1.26" in result.stdout


def test_with_latency_the_tool_calls_run_at_once_the_code_at_the_sandbox_pace_and_the_verdict_compares(tmp_path):
    arms = ["rlm", "react_v2", "smol_code", "smol_tools"]
    result = run_script(["--task", "drugs_realistic", "--model", "oracle", "--runs", "2", "--tool-latency", "50",
                         "--approaches", ",".join(arms), "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    runs = _run_records(tmp_path / "r.json")
    assert all(r["ok"] and covered(r)[0] == covered(r)[1] for r in runs), [(r["approach"], r.get("failure")) for r in runs]
    together = [float(c.rsplit("x", 1)[1]) for c in
                summary_cells(result.stdout, "Parallelism: wall time, share in tools, concurrency")]
    by_arm = dict(zip(arms, together))
    assert by_arm["smol_tools"] > 1.5 and by_arm["smol_code"] <= 1.05 and by_arm["rlm"] <= 1.05
    # The text ends with the verdict: a line per claim, and whether the two frameworks rank code and steps alike.
    tail = result.stdout[result.stdout.index("Verdict, per claim"):]
    tail = re.sub(r"\n  ", " ", tail)  # the verdict's lines, unwrapped
    assert re.search(r"^Token cost: code ahead, by [\d,]+ tokens per run \(RLM Direct [\d,]+ vs ReActV2", tail,
                     re.MULTILINE), tail
    assert "Across frameworks: code ahead in DSPy and in smolagents." in tail
    # Parallelism is judged on wall times, which the machine's load moves: its line is there, whichever way it goes
    # (the concurrency above is what the architectures decide).
    assert re.search(r"^Parallelism: (code ahead, by|step-wise ahead, by|no clear difference \()[^\n]* wall time", tail,
                     re.MULTILINE), tail
    assert "Results:" not in tail.split("\n\n")[0]
    page = (tmp_path / "r.html").read_text()
    header = page[page.index("<header>"):page.index("</header>")]
    assert header.index('class="verdict"') < header.index('class="notice"')  # the first thing a reader sees
    assert "Token cost: code ahead" in header and "smolagents 1.26" in page


def test_a_smolagents_rate_limit_is_rate_limited(tmp_path):
    from rlmbench.lm.oracle.server import OpenAICompatibleServer

    with OpenAICompatibleServer(faults=always("rate_limited")) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", SMOL, "--output", "r.json"], tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert {r["approach"]: r["failure"]["category"] for r in _run_records(tmp_path / "r.json")} == {
        "smol_code": "rate_limited", "smol_tools": "rate_limited"}


def _refuses_content_lists(n, body, system, user):
    """As llama.cpp's server: a 500 for a message whose content is a list of parts (smolagents sends its system
    prompt so), where a string is all it takes."""
    return "server_error" if any(isinstance(m.get("content"), list) for m in body["messages"]) else None


def test_a_server_that_takes_only_strings_gets_smolagents_text_as_strings(tmp_path):
    from rlmbench.lm.oracle.server import OpenAICompatibleServer

    with OpenAICompatibleServer(faults=_refuses_content_lists) as server:
        result = run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                             "--approaches", SMOL, "--output", "r.json"], tmp_path)
        assert server.faults_served == []
    assert result.returncode == 0 and "Give Feedback" not in result.stderr, result.stderr[-2000:]
    assert all(r["ok"] and covered(r)[0] == covered(r)[1] for r in _run_records(tmp_path / "r.json"))


def _code(code: str) -> str:
    return f"Thought: run it.\n<code>\n{code}\n</code>"


def _never_answers(body, system, user):
    """A CodeAgent model whose code looks around (the host's environment) and never calls final_answer."""
    if "code sequence must be opened with" in system:
        return _code("import os\nprint(sorted(os.environ.items()))\nprint(check_drug_interaction('warfarin', 'aspirin'))")
    return None  # smolagents' last request at max_steps: the oracle's answer


def _no_code(body, system, user):
    return "I have looked at the medications and all seems fine." if "code sequence must be" in system else None


def _malformed_calls(body, system, user):
    return 'Action: {"name": "check_drug_interaction", "arguments": {"drug_a": ' if body.get("tools") else None


@pytest.mark.parametrize("behaviour, arm, outcome", [
    (_never_answers, "smol_code", "never_answered"),
    (_no_code, "smol_code", "unparsed"),
    (_malformed_calls, "smol_tools", "unparsed"),
])
def test_a_model_that_goes_wrong_ends_in_its_category_without_a_traceback(behaviour, arm, outcome, tmp_path,
                                                                          monkeypatch):
    monkeypatch.setenv("RLMBENCH_TEST_SECRET", SECRET)
    result = run_against_server(behaviour, ["--approaches", arm, "--rlm-max-iters", "3", "--react-max-iters", "3"],
                                tmp_path)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    (r,) = _run_records(tmp_path / "r.json")
    d = r["diagnostics"]
    assert r["ok"] and d["hit_step_limit"] and (d["steps_used"], d["step_limit"]) == (3, 3)
    assert r["lm_calls"] == 4  # three steps, then smolagents' own request for an answer
    if outcome == "unparsed":
        assert d["unparsed_steps"] == [1, 2, 3] and r["coverage"]["tool_calls"] == 0
        assert summary_row(result.stdout, "Steps the framework could not parse") == ["3 in 1 / 1 runs"]
    else:
        assert d["submitted"] is False and d["cells_repeated"] == [2, 3] and r["coverage"]["tool_calls"] == 3
        assert summary_row(result.stdout, "SUBMIT / final_answer never called") == ["1 in 1 / 1 runs"]
        traces = (tmp_path / "r.traces.jsonl").read_text()
        assert "RLMBENCH_TEST_SECRET" not in traces and SECRET not in traces  # the sandbox has no host environment
        steps = json.loads(traces.splitlines()[0])["steps"]
        assert all("Warfarin" in step["output"] or "warfarin" in step["output"] for step in steps)  # the tool answered


# The escape attempts the RLM sandbox's tests make (tests/test_sandbox.py), made through the CodeAgent's executor.

def _tool_with_a_secret_in_its_globals(drug_a: str, drug_b: str) -> str:
    """Check a pair."""
    return f"{drug_a} + {drug_b}: no interaction ({_HOST_ONLY['key'][:0]})"


_HOST_ONLY = {"key": SECRET}


@pytest.fixture(scope="module")
def pool():
    with SandboxSupply(warm=True) as supply:
        yield supply


def _executor(pool) -> SandboxExecutor:
    """The CodeAgent's executor as the arm builds it: an interpreter of the pool, the task's tool on the host."""
    def new():
        interpreter = pool()
        interpreter.tools.update({"check_pair": _tool_with_a_secret_in_its_globals})
        return interpreter
    executor = SandboxExecutor(new)
    executor.send_tools({"check_pair": smol_tool(_tool_with_a_secret_in_its_globals, as_text=False)})
    return executor


@pytest.fixture
def executor(pool):
    executor = _executor(pool)
    yield executor
    executor.cleanup()


def _attempt(executor, code: str) -> str:
    """What the code printed, returned or raised: all a model could see."""
    try:
        out = executor(code)
        return f"{out.logs}|{out.output}"
    except (RuntimeError, SyntaxError) as exc:
        return f"ERROR {exc}"
    except SandboxLost as exc:  # a denied Deno call ends the session: the run would end as sandbox_error
        return f"LOST {exc}"


def test_the_code_agents_code_runs_in_the_sandbox_with_smolagents_contract(executor):
    # printed output and the last expression's value, both, as smolagents' own executor gives them
    assert _attempt(executor, "x = check_pair('a', 'b')\nprint('got', x)\nlen(x)") == "got a + b: no interaction ()\n|24"
    assert _attempt(executor, "x") == "|a + b: no interaction ()"  # state persists between steps
    executor.send_variables({"drugs": ["a", "b"]})
    assert _attempt(executor, "print(drugs)") == "['a', 'b']\n|None"
    out = executor("final_answer({'narrative': 'done'})")
    assert out.is_final_answer and out.output == {"narrative": "done"}
    assert _attempt(executor, "1/0").startswith("ERROR ZeroDivisionError")


@pytest.mark.parametrize("code", [
    "import os\nprint(os.environ.get('RLMBENCH_TEST_SECRET'), os.environ.get('GROQ_API_KEY'))",
    "print(check_pair.__globals__.get('_HOST_ONLY'), [k for k in check_pair.__globals__ if 'SECRET' in k])",
    "import sys\nf = sys._getframe()\nseen = []\nwhile f:\n    seen += list(f.f_globals)\n    f = f.f_back\n"
    "print('_HOST_ONLY' in seen, 'SECRET' in seen)",
    "import inspect\nprint([fr.frame.f_globals.get('SECRET') for fr in inspect.stack()])",
    "import gc\nprint([o for o in gc.get_objects() if isinstance(o, str) and o.startswith('sk-smol')])",
    "import subprocess\nsubprocess.run(['id'])",
    "import smolagents",
    "import rlmbench",
])
def test_the_code_agents_code_reaches_nothing_of_the_host(executor, code, monkeypatch):
    monkeypatch.setenv("RLMBENCH_TEST_SECRET", SECRET)
    monkeypatch.setenv("GROQ_API_KEY", SECRET)
    out = _attempt(executor, code)
    assert SECRET not in out and "True" not in out, out
    assert _attempt(executor, "print('still alive')") == "still alive\n|None"


def test_the_code_agents_code_reads_no_host_file_and_opens_no_connection(executor, pool, tmp_path):
    secret_file = tmp_path / "secret.txt"
    secret_file.write_text(SECRET)
    assert SECRET not in _attempt(executor, f"print(open({str(secret_file)!r}).read())")
    denied = {}  # attempts through Deno's own API may end the session: each in an executor of its own
    with leak_catcher() as (url, hits):
        for name, code in {"socket": f"import urllib.request\nprint(urllib.request.urlopen({url!r}).status)",
                           "fetch": f"from pyodide.http import pyfetch\nr = await pyfetch({url!r})\nprint(r.status)",
                           "file": f"from js import Deno\nprint(Deno.readTextFileSync({str(secret_file)!r}))",
                           "env": "from js import Deno\nprint(Deno.env.get('RLMBENCH_TEST_SECRET'))",
                           "process": "from js import Deno\nDeno.Command.new('id').outputSync()"}.items():
            own = _executor(pool)
            try:
                denied[name] = _attempt(own, code)
            finally:
                own.cleanup()
    assert hits == []
    for name, out in denied.items():
        assert out.startswith(("ERROR", "LOST")) and SECRET not in out, (name, out)
