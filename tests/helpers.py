"""Running the benchmark script the way a user does: a subprocess, from a directory of its own."""

from __future__ import annotations

import contextlib
import faulthandler
import importlib
import io
import os
import re
import signal
import subprocess
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "rlm_vs_react_tool_calling.py"
GEPA_SCRIPT = ROOT / "gepa_train_rlm.py"
REPORT_SCRIPT = ROOT / "html_report.py"
PROVIDER_KEYS = ("GROQ_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user with no provider key set."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(extra)
    return env


def run_process(args: list[str], cwd: Path, timeout: float = 240, script: Path = SCRIPT, **env: str):
    """The script in a process of its own, exactly as a user starts it: for what only a process shows (its
    exit on a traceback, its children, its signals)."""
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout,
    )


def _sigint_as_from_a_terminal() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start_script(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    """The benchmark started as a user starts it from a terminal, its output piped, to be stopped by the test.

    Its SIGINT is the default, as a terminal's Ctrl-C finds it: a shell without job control starts a background
    command with SIGINT ignored, a child inherits that, and Python then never raises KeyboardInterrupt; tests run
    that way would see a benchmark that ignores Ctrl-C."""
    return subprocess.Popen([sys.executable, str(SCRIPT), *args], cwd=cwd, env=clean_env(**env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_sigint_as_from_a_terminal)


COMMANDS = {SCRIPT: "rlmbench.cli.run_cmd", GEPA_SCRIPT: "rlmbench.cli.gepa_cmd", REPORT_SCRIPT: "rlmbench.cli.report_cmd"}
"""script -> the module whose `main(argv)` it calls: the scripts do nothing else."""


def run_script(args: list[str], cwd: Path, timeout: float = 240, script: Path = SCRIPT, **env: str):
    """The script's own `main(argv)` in this process, from `cwd`, with the environment of a user with no key set.

    Why not a subprocess: each one spends about 3 s of CPU importing DSPy and LiteLLM, loading the tokenizer and
    matplotlib, which on a 2-core machine was a quarter of the suite's time. What a process adds is tested
    through `run_process`. Like a process, an uncaught exception ends the call with exit code 1 and its
    traceback on stderr, and the working folder and environment (a `.env` the run loaded) are restored after.
    If the call has not returned within `timeout`, faulthandler prints every thread's stack and ends the worker,
    so a hang fails the suite loudly instead of stalling it.
    """
    main = importlib.import_module(COMMANDS[script]).main
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    user_env = clean_env(**env)
    os.environ.clear()
    os.environ.update(user_env)
    faulthandler.dump_traceback_later(timeout, exit=True)
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main([str(a) for a in args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            except Exception:  # noqa: BLE001  (what the interpreter would do: the traceback, exit 1)
                traceback.print_exc()
                code = 1
    finally:
        faulthandler.cancel_dump_traceback_later()
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
    return subprocess.CompletedProcess([str(script), *args], code, out.getvalue(), err.getvalue())


def deno_children(pid: int) -> list[int]:
    """Deno processes started by process `pid`: none may outlive the run that started them."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "deno" in line]


def record_checks(record: dict, tool: str) -> tuple[int, int]:
    """(covered, required) of one tool in a record as the results file holds it."""
    entry = next(t for t in record["coverage"]["tools"] if t["tool"] == tool)
    return entry["covered"], entry["required"]


def summary_cells(stdout: str, label: str) -> list[str]:
    """A summary row's cells, each numbered cell (`[3]`, too long for the table) replaced by its note under it."""
    notes = dict(re.findall(r"^\[(\d+)\] .*?, " + re.escape(label) + r": (.*)$", stdout, re.MULTILINE))
    return [notes.get(cell.strip("[]"), cell) for cell in summary_row(stdout, label)]


def summary_row(stdout: str, label: str) -> list[str]:
    """The cells of one row of the printed summary table (columns are separated by two or more spaces)."""
    for line in stdout.splitlines():
        if line.startswith(label + "  "):
            return re.split(r"\s{2,}", line[len(label):].strip())
    raise AssertionError(f"no summary row {label!r} in:\n{stdout}")


def header(task, approaches: list[str], model, config=None, runs: int = 1):
    """The results header the benchmark itself builds for these settings (rlmbench.run.benchmark.build_header)."""
    import datetime as dt

    from rlmbench.agents.approach import ApproachConfig
    from rlmbench.run.benchmark import BenchmarkSettings, build_header

    settings = BenchmarkSettings(task=task, models=(model,), approaches=tuple(approaches), runs=runs,
                                 approach_config=config or ApproachConfig())
    return build_header(settings, dt.datetime.now().astimezone())


def rlm_code_reply(code: str) -> str:
    """An RLM action reply in DSPy's chat format, running `code`: how a test server scripts an RLM."""
    return f"[[ ## reasoning ## ]]\nRun it.\n\n[[ ## code ## ]]\n```python\n{code}\n```\n\n[[ ## completed ## ]]"


def run_against_server(behaviour, args: list[str], cwd: Path):
    """The benchmark against a local OpenAI-compatible server whose replies `behaviour` scripts (the oracle's
    otherwise), one run, no retries: the run is what the script makes it."""
    from rlmbench.lm.oracle.server import OpenAICompatibleServer

    with OpenAICompatibleServer(behaviour) as server:
        return run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                           "--output", "r.json", *args], cwd)


@contextlib.contextmanager
def leak_catcher():
    """A local HTTP server sandboxed code must not reach: yields (its URL, the paths it was asked for)."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/leak", hits
    finally:
        server.shutdown()
        server.server_close()
