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

import os
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from dspy.primitives.python_interpreter import (
    CodeInterpreterError,
    PythonInterpreter,
    _deno_subprocess_env,
    _find_deno_executable,
)

from rlmbench.sandbox.snapshot import SNAPSHOT_ARG, Snapshot, SnapshotError, SnapshotStore

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

    def kill(self) -> None:
        """End the Deno process now, even mid-execution.

        DSPy's `shutdown()` asks the runner to exit and waits, which never returns while
        sandboxed code is stuck in a loop; a run that passed its time budget needs this instead.
        The run's pending `execute()` then fails with a CodeInterpreterError.
        """
        process = self.deno_process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


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


class TimedInterpreter(OfflinePythonInterpreter):
    """Remembers how long its own boot (Deno start + Pyodide load + health check) took, and how it
    was handed out, so whoever holds it (a run's record, even a timed-out one) can report it."""

    boot_seconds: float | None = None
    boot_kind = "stock"  # DSPy's own loadPyodide(); "snapshot": restored from a memory snapshot
    warm: bool = False  # booted before the run's clock started
    wait_seconds: float = 0.0  # waiting for a warm boot, before the clock started

    tool_path_seconds: float = 0.0  # on the host answering the sandbox's tool calls (DSPy's path)
    bridged_calls: int = 0

    def _handle_tool_call(self, request: dict) -> None:
        """DSPy's own handling of one tool call from the sandbox, timed: its share of the bridge."""
        started = time.perf_counter()
        try:
            super()._handle_tool_call(request)
        finally:
            self.tool_path_seconds += time.perf_counter() - started
            self.bridged_calls += 1

    def start(self) -> None:
        if self.deno_process is None and self.boot_seconds is None:
            started = time.perf_counter()
            super().start()
            self.boot_seconds = time.perf_counter() - started
        else:
            super().start()


# A restored Pyodide has run no Python yet, so V8 has not compiled its hot WebAssembly with its
# optimising tier: left alone, that compiling happens in the first run, on background threads that
# compete with the run on 2 cores (an oracle RLM run measured 116 ms from a stock boot and 266 ms
# from a bare restore). So the boot runs this generic workload (loops, strings, JSON, regular
# expressions, compiling) and waits until V8 has finished compiling, all before any run's clock.
# It leaves nothing in the namespace the model's code sees.
WARM_UP = """
import json as _warm_json, re as _warm_re
def _warm(n):
    total = 0
    for i in range(n):
        total += len(str(i)) + len(f"{i}:{total}".split(":"))
    return total
for _ in range(20):
    _warm(3000)
    _warm_json.loads(_warm_json.dumps([{"a": i, "b": str(i)} for i in range(200)]))
    _warm_re.findall(r"\\d+", "a1b22c333" * 100)
    compile("x = [i * i for i in range(100)]\\n" * 50, "<warm-up>", "exec")
del _warm, _warm_json, _warm_re, _
"""


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc/<pid>/stat (OSError off Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_until_idle(pid: int, timeout_s: float = 3.0) -> None:
    """Until the process stops using CPU (V8's background compiling is done), or the timeout; no-op off Linux."""
    deadline = time.monotonic() + timeout_s
    try:
        last = process_cpu_seconds(pid)
        while time.monotonic() < deadline:
            time.sleep(max(2.0 / os.sysconf("SC_CLK_TCK"), 0.02))
            now = process_cpu_seconds(pid)
            if now == last:
                return
            last = now
    except (OSError, ValueError):
        return


class SnapshotInterpreter(TimedInterpreter):
    """A sandbox that restores a Pyodide memory snapshot instead of initialising Pyodide.

    Everything else is the stock interpreter: DSPy's command, permissions and runner, the same
    import map and --no-prompt. Two things are added: read permission on the one snapshot file
    (the runner revokes it once the snapshot is loaded) and the argument naming it. The runner is
    DSPy's own runner.js with its loadPyodide() line patched (rlmbench.sandbox.snapshot)."""

    boot_kind = "snapshot"
    warm_up = True  # False only to measure a bare restore (benchmarks/harness_overhead.py)

    def _health_check(self) -> None:
        """DSPy's health check, then the warm-up: part of the boot, so outside any run's clock."""
        super()._health_check()
        if self.warm_up:
            self._send_request("execute", {"code": WARM_UP}, "during the sandbox warm-up")
            _wait_until_idle(self.deno_process.pid)

    def __init__(self, snapshot: Snapshot, **kwargs) -> None:
        self._snapshot = snapshot  # before DSPy's __init__, which asks for the runner's path
        super().__init__(**kwargs)
        reads = next(i for i, arg in enumerate(self.deno_command) if arg.startswith("--allow-read="))
        self.deno_command[reads] += f",{snapshot.path}"
        self.deno_command.append(f"{SNAPSHOT_ARG}{snapshot.path}")

    def _get_runner_path(self) -> str:
        return str(self._snapshot.runner)


class SandboxSupply:
    """The RLM's `interpreter_factory`: a fresh interpreter per run, booted ahead of time when warm.

    Warm (the default): `reserve()` (called by the runner before it starts a run's clock) waits
    for a booted interpreter, and the factory call inside the run hands it over at once. Each
    hand-out starts the next boot in a background thread, so it overlaps the run that just
    started, as in a production pool. Nothing boots before the first `reserve()`, and no more
    boots start than `expected` hand-outs, so the pool does not compete for the CPU with runs
    that use no sandbox.
    With a SnapshotStore, warm boots restore a Pyodide memory snapshot (made on first use) and
    happen between runs, in `reserve()`, instead of overlapping the run just handed out; a snapshot
    that cannot be made, or fails to restore, leaves the pool on DSPy's stock boot with a one-line
    notice, never on anything less sandboxed.
    Cold: the factory returns an unstarted interpreter, so the boot happens inside the run, the
    stock way, as a DSPy user's first RLM call pays it.
    Interpreters are never reused: each run gets one no model has executed code in (only DSPy's
    health check and, for a snapshot boot, the harness's warm-up, which leaves no names). `close()`
    shuts down every interpreter still waiting, so no Deno process outlives the benchmark.
    """

    # RLM reads this from its factory to describe the runtime in its prompt; keep DSPy's text.
    execution_instructions = PythonInterpreter.execution_instructions

    def __init__(self, warm: bool = True, snapshots: SnapshotStore | None = None) -> None:
        self.warm = warm
        self.snapshots = snapshots if warm else None
        self._boots_left: int | None = None  # None: no limit; see expect()
        self._ready: queue.Queue[tuple[TimedInterpreter | None, BaseException | None]] = queue.Queue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._closed = False
        self._local = threading.local()
        self._set_aside: set[TimedInterpreter] = set()  # reserved by some thread, not yet handed out
        self._booting = 0  # boots started and not yet taken
        self._waiting = 0  # threads waiting in _take_ready

    def _boot_in_background(self) -> None:
        with self._lock:
            if self._closed or self._boots_left == 0:
                return
            if self._boots_left is not None:
                self._boots_left -= 1
            self._booting += 1
            thread = threading.Thread(target=self._boot, name="sandbox-boot", daemon=True)
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def _new_interpreter(self) -> TimedInterpreter:
        if self.snapshots is not None:
            try:
                return SnapshotInterpreter(self.snapshots.snapshot(_find_deno_executable()))
            except Exception as exc:  # SnapshotError, an unwritable cache, a Deno failure: boot the stock way
                reason = str(exc) if isinstance(exc, SnapshotError) else f"{type(exc).__name__}: {exc}"
                self.snapshots.notice(f"Pyodide snapshot not used, sandboxes boot the stock way: {reason}")
                self.snapshots = None
        return TimedInterpreter()

    @staticmethod
    def _started(interp: TimedInterpreter) -> BaseException | None:
        """Start it; on failure shut it down and return why."""
        try:
            interp.start()
        except BaseException as exc:
            interp.shutdown()
            return exc
        return None

    def _boot(self) -> None:
        interp = self._new_interpreter()
        error = self._started(interp)
        if error is not None and isinstance(interp, SnapshotInterpreter) and self.snapshots is not None:
            self.snapshots.invalidate(str(error).splitlines()[0][:200] if str(error) else type(error).__name__)
            interp = TimedInterpreter()  # this boot the stock way; the next makes the snapshot again
            error = self._started(interp)
        if error is not None:  # handed to the run that asks for it, which records it
            self._ready.put((None, error))
            return
        with self._lock:
            closed = self._closed
        if closed:
            interp.shutdown()
        else:
            self._ready.put((interp, None))

    def _take_ready(self) -> TimedInterpreter:
        started = time.perf_counter()
        with self._lock:
            self._waiting += 1
            short = self._booting < self._waiting  # every waiter needs a boot of its own, started or done
        if short:
            self._boot_in_background()
        interp, error = self._ready.get()
        with self._lock:
            self._booting -= 1
            self._waiting -= 1
        if interp is not None and not isinstance(interp, SnapshotInterpreter):
            # A stock boot (1-3 s) is prepared while the run works, as a production pool would; a snapshot
            # boot is short enough to happen between runs, so it never competes with the run it would overlap.
            self._boot_in_background()
        if error is not None:
            raise CodeInterpreterError(f"sandbox failed to boot: {error}") from error
        interp.warm, interp.wait_seconds = True, time.perf_counter() - started
        return interp

    def expect(self, handouts: int) -> None:
        """No more boots than this many hand-outs will be started."""
        with self._lock:
            self._boots_left = handouts

    def reserve(self) -> None:
        """Wait, outside the timed run, until a booted interpreter is set aside for this thread.

        A failed boot is kept and raised by the factory call inside the run, so it is recorded
        as that run's sandbox_error like any other failure.
        """
        if not self.warm or getattr(self._local, "reserved", None) is not None:
            return
        try:
            interp = self._take_ready()
        except CodeInterpreterError as exc:
            self._local.reserved = exc
            return
        with self._lock:
            self._set_aside.add(interp)
        self._local.reserved = interp

    def __call__(self) -> TimedInterpreter:
        if not self.warm:
            return TimedInterpreter()
        reserved, self._local.reserved = getattr(self._local, "reserved", None), None
        if isinstance(reserved, BaseException):
            raise reserved
        interp = reserved or self._take_ready()
        with self._lock:
            self._set_aside.discard(interp)
        return interp

    def close(self) -> None:
        with self._lock:
            self._closed = True
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=60)
        with self._lock:
            set_aside, self._set_aside = list(self._set_aside), set()
        for interp in set_aside:
            interp.shutdown()
        while not self._ready.empty():
            interp, _ = self._ready.get_nowait()
            if interp is not None:
                interp.shutdown()

    def __deepcopy__(self, memo: dict) -> "SandboxSupply":
        # Optimizers deep-copy programs; every copy must draw from this one pool.
        return self

    def __enter__(self) -> "SandboxSupply":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @classmethod
    def for_benchmark(cls, cold: bool, notice: Callable[[str], None]) -> "SandboxSupply":
        """The pool the benchmark runs its sandboxes from: warm boots restore a Pyodide memory snapshot (made on first
        use, `notice` tells the user); `cold` keeps DSPy's stock boot inside each run. Measurements of the harness
        (benchmarks/) use this same pool, so they measure what a run pays."""
        return cls(warm=not cold, snapshots=None if cold else SnapshotStore(notice))
