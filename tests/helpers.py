"""Running the benchmark script the way a user does: a subprocess, from a directory of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "rlm_vs_react_tool_calling.py"
PROVIDER_KEYS = ("GROQ_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user with no provider key set."""
    env = {k: v for k, v in os.environ.items() if k not in PROVIDER_KEYS}
    env.update(extra)
    return env


def run_script(args: list[str], cwd: Path, timeout: float = 240, script: Path = SCRIPT, **env: str):
    return subprocess.run(
        [sys.executable, str(script), *args],
        cwd=cwd, env=clean_env(**env), capture_output=True, text=True, timeout=timeout,
    )


def deno_children(pid: int) -> list[int]:
    """Deno processes started by process `pid`: none may outlive the run that started them."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if "deno" in line]


def record_checks(record: dict, tool: str) -> tuple[int, int]:
    """(covered, required) of one tool in a record as the results file holds it."""
    entry = next(t for t in record["coverage"]["tools"] if t["tool"] == tool)
    return entry["covered"], entry["required"]


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
    from rlmbench.lm.oracle_server import OpenAICompatibleServer

    with OpenAICompatibleServer(behaviour) as server:
        return run_script(["--model", "openai/oracle", "--api-base", server.url, "--runs", "1", "--retries", "0",
                           "--output", "r.json", *args], cwd)
