"""A task whose tools are the user's own code: Python functions and an MCP server over stdio (the real SDK), with
the ground truth read from their answers, every bad input one line, and no server process left behind."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import (
    GEPA_SCRIPT,
    REPORT_SCRIPT,
    ROOT,
    SCRIPT,
    clean_env,
    rlm_code_reply,
    run_against_server,
    run_process,
    run_script,
    summary_row,
)

from rlmbench.tasks.task_file import load_task

EXAMPLES = ROOT / "examples"
DRUG_FIGURES = {"react": 37, "rlm": 2, "hybrid": 39, "react_v2": 2}
"""LM calls per run of the built-in drug task under the oracle, in every arm."""


def _records(path):
    return json.loads(path.read_text())


def _covered(record) -> tuple[int, int]:
    """(covered, required) checks of a record as the results file holds it."""
    tools = record["coverage"]["tools"]
    return sum(t["covered"] for t in tools), sum(t["required"] for t in tools)


@pytest.fixture(scope="module")
def builtin_drugs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("builtin")
    result = run_script(["--model", "oracle", "--runs", "1", "--output", "d.json"], cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return _records(cwd / "d.json")


@pytest.mark.parametrize("example", ["drugs_python", "drugs_mcp"])
def test_each_example_gives_the_built_in_drug_figures_with_truth_read_from_its_tools(example, builtin_drugs,
                                                                                    tmp_path):
    result = run_script(["--task", str(EXAMPLES / example / "task.toml"), "--model", "oracle", "--runs", "1",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Ground truth read from the tools: 35 checks, 10 findings" in result.stderr
    data = _records(tmp_path / "r.json")
    assert data["task"]["truth"] == "tools" and data["task"]["truth_fingerprint"]
    declared = {t: f for t, f in load_task("drugs").data.findings.items() if f}  # the built-in task's truth
    assert {tool: {tuple(f[:-1]) for f in found} for tool, found in data["task"]["findings"].items()} == {
        tool: {(*key, entry.severity) for key, entry in found.items()} for tool, found in declared.items()}
    by_approach = {r["approach"]: r for r in data["records"]}
    builtin = {r["approach"]: r for r in builtin_drugs["records"]}
    for approach, lm_calls in DRUG_FIGURES.items():
        record = by_approach[approach]
        assert record["ok"] and _covered(record) == (35, 35), approach
        assert record["lm_calls"] == lm_calls, approach
        # Truth read by a matcher scores exactly as the same data declared in TOML.
        assert record["answer_score"] == builtin[approach]["answer_score"], approach
    assert summary_row(result.stdout, "Interactions: recall / precision") == ["100% / 100%"] * 4
    assert summary_row(result.stdout, "Overall risk level right") == ["1 / 1"] * 4
    # The page is rebuilt from the results files alone: no server started, the truth the tools gave kept.
    rebuilt = run_script([str(tmp_path / "r.json"), "--output", str(tmp_path / "again.html")], tmp_path,
                         script=REPORT_SCRIPT)
    assert rebuilt.returncode == 0 and rebuilt.stderr == "", rebuilt.stderr
    assert (tmp_path / "again.html").read_text() == (tmp_path / "r.html").read_text()


def _user_task(folder, tools_toml: str, extra: str = "") -> str:
    """A small task file over the user's tools in `folder`: three items, one pair tool."""
    (folder / "task.toml").write_text(f'''
name = "mine"
description = "A user's task."
instructions = "Check every pair of the items with the tool."
severities = ["high", "low"]
{extra}
[risk]
levels = ["low", "high"]
none = "low"
by_severity = {{ high = "high", low = "low" }}

[[lists]]
name = "items"
description = "the items"
items = ["alpha", "beta", "gamma"]

[[tools]]
name = "check_pair"
kind = "pair"
lists = ["items"]
{tools_toml}
''')
    return str(folder / "task.toml")


PAIR_MODULE = '''
import os, sys
def check_pair(a: str, b: str) -> str:
    """Whether two items clash."""
    if {a, b} == {"alpha", "gamma"}:
        return "CLASH (high) between the two"
    if {a, b} == {"beta", "gamma"} and os.environ.get("PAIR_RAISES"):
        raise ValueError("the lookup service refused beta/gamma")
    return "fine"
NOT_A_FUNCTION = 3
'''


@pytest.mark.parametrize("tool, module, expected", [
    ('function = "no_such_module:check_pair"', None, "tools[0].function: cannot import 'no_such_module'"),
    ('function = "pair_tools_a:nope"', PAIR_MODULE, "tools[0].function: 'pair_tools_a' has no attribute 'nope'"),
    ('function = "pair_tools_b:NOT_A_FUNCTION"', PAIR_MODULE, "tools[0].function: pair_tools_b:NOT_A_FUNCTION is "
                                                              "not callable"),
    ('function = "pair_tools_c:check_pair"\nargs = ["x", "y"]', PAIR_MODULE,
     "tools[0].function: takes (a, b), but the task file's args are (x, y)"),
    ('function = "pair_tools_d:check_pair"\nfinding = { pattern = "CLASH (", severity_group = 1 }', PAIR_MODULE,
     "tools[0].finding.pattern: not a regular expression"),
    ('function = "pair_tools_e:check_pair"\nfinding = { pattern = "CLASH", severity_group = 1 }', PAIR_MODULE,
     "tools[0].finding.severity_group: the pattern has 0 group(s), no group 1"),
    ('function = "pair_tools_f:check_pair"\nfinding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = "sev" }',
     PAIR_MODULE, "tools[0].finding.severity_group: the pattern has no group named 'sev'"),
    ('function = "pair_tools_g"', PAIR_MODULE, "tools[0].function: 'pair_tools_g' is not `module:attr`"),
    ("mcp = true", None, "tools[0].mcp: an mcp tool needs a [server] table (command or url)"),
])
def test_a_bad_user_tool_is_one_line_naming_the_file_and_the_field(tool, module, expected, tmp_path):
    if module is not None:
        name = tool.split('"')[1].split(":")[0]
        (tmp_path / f"{name}.py").write_text(module)
    path = _user_task(tmp_path, tool + '\ndoc = "Whether two items clash."' if "mcp" in tool else tool)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {expected}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_pair_function_with_three_arguments_does_not_fit_its_kind(tmp_path):
    (tmp_path / "three_args.py").write_text('def check_pair(a, b, c):\n    """Three."""\n    return "fine"\n')
    path = _user_task(tmp_path, 'function = "three_args:check_pair"')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: tools[0].function: a pair tool takes 2 arguments, got 3"


SERVER = '''
import os, sys, time
from mcp.server.mcpserver import MCPServer

server = MCPServer("pairs")
with open("pids.txt", "a") as pids:  # which server processes this invocation started
    print(os.getpid(), file=pids)
with open("env.txt", "w") as names:  # what the server was given of the benchmark's environment
    print(" ".join(sorted(os.environ)), file=names)


@server.tool()
def check_pair(a: str, b: str) -> dict:
    """Whether two items clash."""
    if os.environ.get("DIE_ON") and {a, b} == set(os.environ["DIE_ON"].split(",")) and not os.path.exists("died"):
        open("died", "w").close()
        print("pairs server: out of memory on", a, b, file=sys.stderr, flush=True)
        os._exit(3)
    time.sleep(float(os.environ.get("CALL_SLEEP", "0")))
    return {"clash": "yes" if {a, b} == {"alpha", "gamma"} else "no", "level": "high"}


if __name__ == "__main__":
    server.run()
'''


MATCHED = 'finding = { field = "clash", clear = ["no"], severity_field = "level" }'
DECLARED = 'findings = [{ items = ["alpha", "gamma"], severity = "high", details = "clash" }]'


def _server_task(folder, server_env: str = "", truth: str = MATCHED) -> str:
    (folder / "pairs_server.py").write_text(SERVER)
    return _user_task(folder, f"mcp = true\n{truth}",
                      extra=f'[server]\ncommand = ["python", "pairs_server.py"]\n{server_env}\n')


@pytest.mark.parametrize("server, expected", [
    ('[server]\ncommand = ["python", "x.py"]\nurl = "http://127.0.0.1:9/mcp"\n',
     "server: give either `command` (a server started over stdio) or `url`"),
    ("[server]\nper_run = true\n", "server: give either `command` (a server started over stdio) or `url`"),
    ('[server]\nurl = "127.0.0.1:9"\n', "server.url: '127.0.0.1:9' is not an http:// or https:// URL"),
])
def test_a_bad_server_table_is_one_line(server, expected, tmp_path):
    path = _user_task(tmp_path, 'mcp = true\ndoc = "Whether two items clash."', extra=server)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith(f"error: {path}: {expected}"), result.stderr


def test_a_server_without_the_declared_tool_or_that_cannot_start_is_one_line_and_leaves_no_process(tmp_path):
    path = _server_task(tmp_path)
    (tmp_path / "task.toml").write_text((tmp_path / "task.toml").read_text().replace(
        "mcp = true", 'mcp = "check_triple"'))
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: tools[0].mcp: the server has no tool 'check_triple'; it has: "
                                     f"check_pair")
    (tmp_path / "pairs_server.py").write_text("import sys\nprint('cannot load the index', file=sys.stderr)\n"
                                              "sys.exit(1)\n")
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: server: MCP server `python pairs_server.py` did not start")
    assert "cannot load the index" in lines[0]
    assert _servers(tmp_path) == []


def _servers(folder) -> list[int]:
    """Server processes started in this test's folder that are still running."""
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    pids = [int(line.split()[0]) for line in out.splitlines() if "server.py" in line]
    return [pid for pid in pids if os.path.realpath(f"/proc/{pid}/cwd") == os.path.realpath(folder)]


def test_a_server_that_dies_mid_run_fails_that_run_only_and_the_next_gets_a_fresh_server(tmp_path):
    path = _server_task(tmp_path, server_env='env = { DIE_ON = "beta,gamma" }', truth=DECLARED)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "2", "--approaches", "react",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = sorted(_records(tmp_path / "r.json")["records"], key=lambda r: r["run"])
    assert not first["ok"] and first["failure"]["category"] == "tool_server_error"
    assert "pairs server: out of memory on" in first["failure"]["message"]
    assert second["ok"] and _covered(second)[0] == 3
    assert summary_row(result.stdout, "Failures by category") == ["tool_server_error 1"]
    assert _servers(tmp_path) == []


def test_a_user_function_that_raises_is_a_tool_error_the_agent_sees_and_the_run_goes_on(tmp_path):
    (tmp_path / "raising_tools.py").write_text(PAIR_MODULE)
    path = _user_task(tmp_path, 'function = "raising_tools:check_pair"\n'
                                'finding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = 1 }')
    (tmp_path / "task.toml").write_text((tmp_path / "task.toml").read_text())
    truth = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react_v2",
                        "--output", "ok.json"], tmp_path)
    assert truth.returncode == 0, truth.stderr[-2000:]
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react,react_v2",
                         "--output", "r.json"], tmp_path, PAIR_RAISES="1")
    # The truth pass meets the error first: one line, exit 2, before any run.
    assert result.returncode == 2
    assert "the truth pass called check_pair(beta, gamma), which raised ValueError" in result.stderr
    declared = _user_task(tmp_path, 'function = "raising_tools:check_pair"\nfindings = [{ items = ["alpha", '
                                    '"gamma"], severity = "high", details = "clash" }]')
    result = run_script(["--task", declared, "--model", "oracle", "--runs", "1", "--approaches", "react,react_v2",
                         "--output", "r.json", "--retries", "0"], tmp_path, PAIR_RAISES="1")
    assert result.returncode == 0, result.stderr[-2000:]
    traces = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    for trace in traces:
        outcomes = {tuple(sorted(c["args"].values())): c["outcome"] for c in trace["tool_calls"]}
        assert outcomes[("beta", "gamma")] == "tool_error" and outcomes[("alpha", "beta")] == "answered"
    records = _records(tmp_path / "r.json")["records"]
    assert all(r["ok"] and _covered(r)[0] == 2 for r in records)  # the failed check is not counted
    assert summary_row(result.stdout, "Calls your tools answered with an error") == [
        "1 in 1 / 1 runs", "4 in 1 / 1 runs"]  # ReActV2's oracle asks again in each of its 3 later turns
    react = next(t for t in traces if t["approach"] == "react")
    assert "the lookup service refused beta/gamma" in json.dumps(react)  # what the agent was shown


def test_no_ground_truth_leaves_the_findings_rows_na_and_everything_else_measured(tmp_path):
    (tmp_path / "plain_tools.py").write_text(PAIR_MODULE)
    path = _user_task(tmp_path, 'function = "plain_tools:check_pair"')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "rlm,react_v2",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary_row(result.stdout, "Check pair findings: recall / precision") == ["n/a (no ground truth)"] * 2
    assert summary_row(result.stdout, "Overall risk level right") == ["n/a (no ground truth)"] * 2
    assert summary_row(result.stdout, "Coverage, items pairs") == ["3/3", "3/3"]
    assert _records(tmp_path / "r.json")["task"]["truth"] == "none"


def test_a_resume_whose_tools_now_answer_differently_is_refused_in_one_line(tmp_path):
    (tmp_path / "changing_tools.py").write_text(PAIR_MODULE)
    path = _user_task(tmp_path, 'function = "changing_tools:check_pair"\n'
                                'finding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = 1 }')
    first = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react_v2",
                        "--output", "r.json"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (tmp_path / "changing_tools.py").write_text(PAIR_MODULE.replace('{"alpha", "gamma"}', '{"alpha", "beta"}'))
    # A process of its own: this one has imported the module already, as one invocation does.
    resumed = run_process(["--resume", "r.jsonl", "--runs", "2"], tmp_path)
    assert resumed.returncode == 2, resumed.stderr
    lines = resumed.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Ground truth read from the tools"), resumed.stderr
    assert lines[1].startswith("error: cannot resume: the task's tools now answer differently")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_stopping_the_benchmark_mid_run_leaves_no_server_process(sig, tmp_path):
    path = _server_task(tmp_path, server_env='env = { CALL_SLEEP = "0.3" }')
    proc = subprocess.Popen([sys.executable, str(SCRIPT), "--task", path, "--model", "oracle", "--runs", "20",
                             "--approaches", "react", "--output", "r.json"], cwd=tmp_path, env=clean_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen = ""
    while "] ok" not in seen and proc.poll() is None:
        seen += proc.stderr.readline()
    assert _servers(tmp_path), "the server should be running mid-invocation"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    # Ctrl-C stops the server before the benchmark exits; a killed benchmark cannot, and its server ends when
    # its stdin closes (the MCP SDK's stdio server), which may take a moment after the kill.
    deadline = time.monotonic() + 30
    while _servers(tmp_path) and sig == signal.SIGKILL and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _servers(tmp_path) == []
    assert _records(tmp_path / "r.json")["records"]  # the finished runs are kept


def test_sandboxed_code_reaches_the_users_code_only_through_the_declared_tools(tmp_path):
    shutil.copytree(EXAMPLES / "drugs_python", tmp_path / "task")
    probe = ("out = {}\n"
             "try:\n    import drug_tools\n    out['import'] = 'imported'\nexcept Exception as e:\n"
             "    out['import'] = type(e).__name__\n"
             f"try:\n    open({str(tmp_path / 'task' / 'drug_data.py')!r}).read()\n    out['read'] = 'read'\n"
             "except Exception as e:\n    out['read'] = type(e).__name__\n"
             "out['tool'] = check_drug_interaction('warfarin', 'aspirin')[:5]\n"
             "print(out)")
    submit = ("SUBMIT(interactions=[], pairs_without_interaction=[], contraindications=[], overall_risk='low', "
              "risk_assessment='probe')")

    cells = []

    def behaviour(body, system, user):
        """The probe in the first cell, SUBMIT in the second; the oracle's reply to anything else."""
        if "code" not in system:
            return None
        cells.append(1)
        return rlm_code_reply(probe if len(cells) == 1 else submit)

    result = run_against_server(behaviour, ["--task", str(tmp_path / "task" / "task.toml"), "--approaches", "rlm"],
                                tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    trace = json.loads((tmp_path / "r.traces.jsonl").read_text().splitlines()[0])
    output = trace["code_cells"][0]["output"]
    assert "'import': 'ModuleNotFoundError'" in output and "'read': 'FileNotFoundError'" in output
    assert "'tool': 'MAJOR'" in output
    assert [c["tool"] for c in trace["tool_calls"]] == ["check_drug_interaction"]


def test_the_task_tools_run_concurrently_from_several_runs(tmp_path):
    path = _server_task(tmp_path, server_env='env = { CALL_SLEEP = "0.05" }')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "4", "--approaches", "react_v2,rlm",
                         "--concurrency", "4", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    records = _records(tmp_path / "r.json")["records"]
    assert len(records) == 8 and all(r["ok"] and _covered(r)[0] == 3 for r in records)
    assert summary_row(result.stdout, "Check pair findings: recall / precision") == ["100% / 100%"] * 2


def test_gepa_compiles_the_rlm_over_the_users_server_with_the_truth_read_from_it(tmp_path):
    result = run_script(["--task", str(EXAMPLES / "drugs_mcp" / "task.toml"), "--program-model", "oracle",
                         "--reflection-model", "oracle", "--max-metric-calls", "4", "--output", "p.json"], tmp_path,
                        script=GEPA_SCRIPT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ground truth read from the tools: 35 checks, 10 findings" in result.stderr
    assert "Held-out coverage (3 cases): before 1.000, after 1.000" in result.stdout
    assert (tmp_path / "p.json").is_file() and _servers(EXAMPLES / "drugs_mcp") == []


def test_a_running_streamable_http_server_is_reached_at_its_url(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shutil.copy(EXAMPLES / "drugs_mcp" / "task.toml", tmp_path / "task.toml")
    (tmp_path / "http_server.py").write_text(f"import sys\nsys.path.insert(0, {str(EXAMPLES / 'drugs_mcp')!r})\n"
                                             f"from server import server\nserver.run('streamable-http', port={port})\n")
    task = (tmp_path / "task.toml").read_text().replace('command = ["python", "server.py"]',
                                                        f'url = "http://127.0.0.1:{port}/mcp"')
    (tmp_path / "task.toml").write_text(task)
    server = subprocess.Popen([sys.executable, "http_server.py"], cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):  # until it listens (or has died)
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0 or server.poll() is not None:
                    break
            subprocess.run(["sleep", "0.1"])
        result = run_script(["--task", str(tmp_path / "task.toml"), "--model", "oracle", "--runs", "1",
                             "--approaches", "rlm,react_v2", "--output", "r.json"], tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        assert all(r["ok"] and _covered(r) == (35, 35) for r in _records(tmp_path / "r.json")["records"])
        assert summary_row(result.stdout, "Interactions: recall / precision") == ["100% / 100%"] * 2
        assert server.poll() is None  # a server the benchmark did not start is left running
    finally:
        server.terminate()
        server.wait(10)


def test_per_run_gives_every_run_a_fresh_server_which_never_sees_the_users_keys(tmp_path):
    path = _server_task(tmp_path, server_env="per_run = true", truth=DECLARED)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "3", "--approaches", "react_v2",
                         "--output", "r.json"], tmp_path, OPENAI_API_KEY="sk-never-shared", PAIRS_INDEX="x")
    assert result.returncode == 0, result.stderr[-2000:]
    given = (tmp_path / "env.txt").read_text().split()  # the SDK's safe variables and the task's env, no key
    assert "PATH" in given and "DIE_ON" not in given and "OPENAI_API_KEY" not in given and "PAIRS_INDEX" not in given
    pids = (tmp_path / "pids.txt").read_text().split()
    assert len(set(pids)) == 1 + 3  # the one that listed the tools at the start, then one per run
    assert all(r["ok"] and _covered(r)[0] == 3 for r in _records(tmp_path / "r.json")["records"])
    assert _servers(tmp_path) == []
