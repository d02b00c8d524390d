"""Your MCP server as a task's tools, over the real SDK: started over stdio or reached at a URL, stopped at the end,
on Ctrl-C and when killed, a fresh one after it dies or for every run, and never given your keys."""

import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
from helpers import run_script, start_script, summary_row
from user_tasks import (
    DECLARED,
    EVERY_ARM,
    EXAMPLES,
    check_spelled_run,
    covered,
    records,
    server_task,
    servers,
    spelled_task,
    user_task,
)


@pytest.mark.parametrize("server, expected", [
    ('[server]\ncommand = ["python", "x.py"]\nurl = "http://127.0.0.1:9/mcp"\n',
     "server: give either `command` (a server started over stdio) or `url`"),
    ("[server]\nper_run = true\n", "server: give either `command` (a server started over stdio) or `url`"),
    ('[server]\nurl = "127.0.0.1:9"\n', "server.url: '127.0.0.1:9' is not an http:// or https:// URL"),
])
def test_a_bad_server_table_is_one_line(server, expected, tmp_path):
    path = user_task(tmp_path, 'mcp = true\ndoc = "Whether two items clash."', extra=server)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2 and result.stderr.strip().startswith(f"error: {path}: {expected}"), result.stderr


def test_a_server_without_the_declared_tool_or_that_cannot_start_is_one_line_and_leaves_no_process(tmp_path):
    path = server_task(tmp_path)
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
    assert servers(tmp_path) == []


def test_a_server_that_dies_mid_run_fails_that_run_only_and_the_next_gets_a_fresh_server(tmp_path):
    path = server_task(tmp_path, server_env='env = { DIE_ON = "beta,gamma" }', truth=DECLARED)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "2", "--approaches", "react",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    first, second = sorted(records(tmp_path / "r.json")["records"], key=lambda r: r["run"])
    assert not first["ok"] and first["failure"]["category"] == "tool_server_error"
    assert "pairs server: out of memory on" in first["failure"]["message"]
    assert second["ok"] and covered(second)[0] == 3
    assert summary_row(result.stdout, "Failures by category") == ["tool_server_error 1"]
    assert servers(tmp_path) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_stopping_the_benchmark_mid_run_leaves_no_server_process(sig, tmp_path):
    path = server_task(tmp_path, server_env='env = { CALL_SLEEP = "0.3" }')
    proc = start_script(["--task", path, "--model", "oracle", "--runs", "20", "--approaches", "react",
                         "--output", "r.json"], tmp_path)
    seen = ""
    while "] ok" not in seen and proc.poll() is None:
        seen += proc.stderr.readline()
    assert servers(tmp_path), "the server should be running mid-invocation"
    proc.send_signal(sig)
    proc.communicate(timeout=60)
    assert proc.returncode == (130 if sig == signal.SIGINT else -signal.SIGKILL)
    # Ctrl-C stops the server before the benchmark exits; a killed benchmark cannot, and its server ends when
    # its stdin closes (the MCP SDK's stdio server), which may take a moment after the kill.
    deadline = time.monotonic() + 30
    while servers(tmp_path) and sig == signal.SIGKILL and time.monotonic() < deadline:
        time.sleep(0.1)
    assert servers(tmp_path) == []
    assert records(tmp_path / "r.json")["records"]  # the finished runs are kept


def test_the_task_tools_run_concurrently_from_several_runs(tmp_path):
    path = server_task(tmp_path, server_env='env = { CALL_SLEEP = "0.05" }')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "4", "--approaches", "react_v2,rlm",
                         "--concurrency", "4", "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    recorded = records(tmp_path / "r.json")["records"]
    assert len(recorded) == 8 and all(r["ok"] and covered(r)[0] == 3 for r in recorded)
    assert summary_row(result.stdout, "Check pair findings: recall / precision") == ["100% / 100%"] * 2


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
        assert all(r["ok"] and covered(r) == (35, 35) for r in records(tmp_path / "r.json")["records"])
        assert summary_row(result.stdout, "Interactions: recall / precision") == ["100% / 100%"] * 2
        assert server.poll() is None  # a server the benchmark did not start is left running
    finally:
        server.terminate()
        server.wait(10)


def test_per_run_gives_every_run_a_fresh_server_which_never_sees_the_users_keys(tmp_path):
    path = server_task(tmp_path, server_env="per_run = true", truth=DECLARED)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "3", "--approaches", "react_v2",
                         "--output", "r.json"], tmp_path, OPENAI_API_KEY="sk-never-shared", PAIRS_INDEX="x")
    assert result.returncode == 0, result.stderr[-2000:]
    given = (tmp_path / "env.txt").read_text().split()  # the SDK's safe variables and the task's env, no key
    assert "PATH" in given and "DIE_ON" not in given and "OPENAI_API_KEY" not in given and "PAIRS_INDEX" not in given
    pids = (tmp_path / "pids.txt").read_text().split()
    assert len(set(pids)) == 1 + 3  # the one that listed the tools at the start, then one per run
    assert all(r["ok"] and covered(r)[0] == 3 for r in records(tmp_path / "r.json")["records"])
    assert servers(tmp_path) == []


def test_a_server_that_never_answers_the_handshake_is_one_line_after_its_start_timeout(tmp_path):
    (tmp_path / "silent_server.py").write_text("import time\ntime.sleep(600)\n")
    path = user_task(tmp_path, 'mcp = true\ndoc = "Whether two items clash."',
                     extra='[server]\ncommand = ["python", "silent_server.py"]\nstart_timeout_s = 2\n')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: server: MCP server `python silent_server.py` did not start: "
                                     f"TimeoutError: no answer to the MCP handshake within 2 s (server.start_timeout_s)")
    assert servers(tmp_path) == []


def test_items_reach_your_server_exactly_as_the_file_spells_them_in_every_arm(tmp_path):
    path = spelled_task(tmp_path, "mcp")
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--output", "r.json",
                         "--approaches", EVERY_ARM], tmp_path)
    check_spelled_run(result, tmp_path)
    assert servers(tmp_path) == []
