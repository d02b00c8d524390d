"""DSPy's Deno/Pyodide sandbox, made to start without fetching code from deno.land.

DSPy 3.4.1's runner.js imports `readLines` from https://deno.land/std@0.186.0/io/mod.ts. That
host is unreachable offline, and fetching it means running remote code on every start. An
import map redirects that one URL to `deno_std_io.ts` in this package. Everything else is
DSPy's own default launch: the command it builds, its Deno version check, its
`DENO_NO_PACKAGE_JSON` environment and its read/env/network permissions. The interpreter is
still created through `PythonInterpreter.__init__`, so sandboxed code gets no more access
than DSPy grants by default (no host files, environment, network or subprocesses).

One flag is added besides the map: `--no-prompt`. Without it, sandboxed code that touches a
denied permission (`from js import Deno; Deno.env.get(...)`) makes Deno ask for permission on
stdin, which is the JSON-RPC channel: the session hangs or dies. With it, the attempt raises
inside the sandbox and the run goes on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from dspy.primitives.python_interpreter import (
    CodeInterpreterError,
    PythonInterpreter,
    _deno_subprocess_env,
    _find_deno_executable,
)

IMPORT_MAP = Path(__file__).with_name("deno_import_map.json").resolve()


class OfflinePythonInterpreter(PythonInterpreter):
    """`dspy.PythonInterpreter` whose runner resolves its std import locally and never prompts."""

    def __init__(self, **kwargs) -> None:
        if kwargs.get("deno_command"):
            raise ValueError("OfflinePythonInterpreter builds its own Deno command; do not pass deno_command")
        super().__init__(**kwargs)
        # Keep DSPy's command (and so its version check and environment), add only the map.
        run_at = self.deno_command.index("run")
        self.deno_command[run_at + 1:run_at + 1] = [f"--import-map={IMPORT_MAP}", "--no-prompt"]


def check_deno() -> str:
    """Return the Deno version line, or raise CodeInterpreterError saying why Deno cannot run."""
    executable = _find_deno_executable()
    try:
        result = subprocess.run(
            [executable, "--version"], capture_output=True, text=True, timeout=20, env=_deno_subprocess_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CodeInterpreterError(f"Deno could not be started ({executable}): {exc}") from exc
    if result.returncode != 0:
        raise CodeInterpreterError(f"Deno failed to start ({executable}): {result.stderr.strip()[:200]}")
    return result.stdout.splitlines()[0] if result.stdout else "deno (unknown version)"
