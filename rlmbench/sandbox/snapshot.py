"""A Pyodide memory snapshot, so a warm-pool sandbox boots without re-initialising Python each time.

DSPy's runner calls `loadPyodide()`, which compiles and initialises the whole interpreter: on this
kind of machine 1.3-3 s of CPU per sandbox, several times an oracle RLM run. Pyodide 0.29.4 (the
version DSPy 3.4.1 pins) can instead restore the memory of an interpreter that finished
initialising: `loadPyodide({_makeSnapshot: true})` then `makeMemorySnapshot()` once, and
`loadPyodide({_loadSnapshot: bytes})` on every later boot. These options are private to Pyodide
(present from 0.26 through 314.x), so everything here checks what it uses:

- The snapshot is made on first use by a separate Deno process that runs no model code, and
  cached under `cache_dir()`, named by what it depends on (DSPy's runner, this module's make
  script, the Deno version and the Pyodide package), with a sidecar recording its size, its
  SHA-256 and the SHA-256 of the Pyodide build it came from. A file that does not match its
  sidecar (corrupt) or a build that changed (stale) is never loaded: it is made again, and the
  making is a one-line notice.
- The snapshot holds no live JS proxies: it is taken before DSPy's runner sets up the tool bridge,
  the environment and the stdin reader, which the runner then does as it always does.
- The runner that loads it is DSPy's own runner.js with its one `loadPyodide()` line replaced
  (`SnapshotError` if DSPy ever changes that line). After restoring, it re-seeds Python's RNG
  (the snapshot froze its state) and revokes its read permission on the snapshot file, so
  sandboxed code can read no host file, as with DSPy's stock boot.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dspy.primitives import python_interpreter
from dspy.primitives.python_interpreter import PythonInterpreter, _deno_subprocess_env, _get_deno_version

from rlmbench.atomic_write import write_atomic

LOAD_LINE = "const pyodide = await pyodideModule.loadPyodide();"
SNAPSHOT_ARG = "--rlmbench-snapshot="
RESTORE = f"""const _snapshotPath = Deno.args.find((arg) => arg.startsWith("{SNAPSHOT_ARG}"))?.slice({len(SNAPSHOT_ARG)});
// rlmbench: restore a memory snapshot of an initialised Pyodide instead of initialising it again.
const pyodide = _snapshotPath
  ? await pyodideModule.loadPyodide({{ _loadSnapshot: Deno.readFileSync(_snapshotPath) }})
  : await pyodideModule.loadPyodide();
if (_snapshotPath) {{
  await Deno.permissions.revoke({{ name: "read", path: _snapshotPath }});
  pyodide.runPython("import random; random.seed()");  // the snapshot froze the RNG's state
}}"""
# What the snapshot holds: Pyodide initialised, plus the modules DSPy's runner imports on every
# execute and for every tool wrapper. Nothing is tailored to this benchmark's tasks or its oracle.
MAKE_SCRIPT = """import pyodideModule from "{spec}";
const pyodide = await pyodideModule.loadPyodide({{ _makeSnapshot: true }});
pyodide.runPython("import sys, io, json\\nfrom pyodide.ffi import run_sync, JsProxy");
Deno.writeFileSync(Deno.args[0], pyodide.makeMemorySnapshot());
"""


class SnapshotError(RuntimeError):
    """The snapshot cannot be made or used; the stock boot still works."""


def cache_dir() -> Path:
    """Where snapshots live: $RLMBENCH_CACHE_DIR, else $XDG_CACHE_HOME/rlmbench, else ~/.cache/rlmbench."""
    if os.environ.get("RLMBENCH_CACHE_DIR"):
        return Path(os.environ["RLMBENCH_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rlmbench"


def dspy_runner() -> Path:
    return Path(python_interpreter.__file__).with_name("runner.js")


def _pyodide_spec(runner_text: str) -> str:
    """The npm specifier DSPy's runner imports Pyodide from ('npm:pyodide@0.29.4/pyodide.js')."""
    for line in runner_text.splitlines():
        if line.startswith("import pyodideModule from "):
            return line.split('"')[1]
    raise SnapshotError("DSPy's runner.js no longer imports pyodideModule; the snapshot boot does not apply")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Snapshot:
    path: Path
    """The snapshot's bytes."""
    runner: Path
    """DSPy's runner.js with its loadPyodide() line able to restore the snapshot."""
    made_s: float | None = None
    """Seconds it took to make, when this process made it; None when it was found in the cache."""


def _pyodide_build(deno_dir: str | None, spec: str) -> Path | None:
    """Pyodide's wasm in Deno's npm cache: the build a snapshot belongs to."""
    name, _, version = spec.removeprefix("npm:").split("/")[0].partition("@")
    if not deno_dir:
        return None
    wasm = Path(deno_dir) / "npm" / "registry.npmjs.org" / name / version / "pyodide.asm.wasm"
    return wasm if wasm.is_file() else None


class SnapshotStore:
    """Finds, checks and makes the snapshot; one per process, safe to call from boot threads."""

    def __init__(self, notice: Callable[[str], None], directory: Path | None = None) -> None:
        self.notice = notice
        self.directory = directory or cache_dir()
        self._lock = threading.Lock()
        self._ready: Snapshot | None = None

    def _names(self, deno: str) -> tuple[str, str, Path, Path]:
        runner_text = dspy_runner().read_text()
        if runner_text.count(LOAD_LINE) != 1:
            raise SnapshotError(f"DSPy's runner.js has no single line {LOAD_LINE!r}; the snapshot boot does not apply")
        spec = _pyodide_spec(runner_text)
        version = _get_deno_version(deno)  # DSPy's own probe, the one it runs before every start
        key = hashlib.sha256(json.dumps([runner_text, RESTORE, MAKE_SCRIPT, version, spec]).encode()).hexdigest()[:16]
        runner = self.directory / f"runner-{key}.js"
        return runner_text.replace(LOAD_LINE, RESTORE), spec, runner, self.directory / f"pyodide-{key}.snapshot"

    def snapshot(self, deno: str) -> Snapshot:
        """The checked snapshot, made first if it is missing, corrupt or stale."""
        with self._lock:
            if self._ready is None:
                self._ready = self._check_or_make(deno)
            return self._ready

    def invalidate(self, why: str) -> None:
        """A snapshot that failed to restore: remove it, so the next boot makes it again."""
        with self._lock:
            if self._ready is not None:
                for path in (self._ready.path, self._ready.path.with_suffix(".json")):
                    path.unlink(missing_ok=True)
                self.notice(f"Pyodide snapshot {self._ready.path} failed to restore ({why}); removed")
                self._ready = None

    def _check_or_make(self, deno: str) -> Snapshot:
        runner_text, spec, runner, path = self._names(deno)
        deno_dir = PythonInterpreter._get_deno_dir(deno)
        sidecar = path.with_suffix(".json")
        problem = "none cached"
        if path.is_file() and sidecar.is_file():
            try:
                recorded = json.loads(sidecar.read_text())
            except (OSError, ValueError):
                recorded = {}
            build = _pyodide_build(deno_dir, spec)
            if path.stat().st_size != recorded.get("size") or _sha256(path) != recorded.get("sha256"):
                problem = "the cached one is corrupt"
            elif build is None or _sha256(build) != recorded.get("pyodide_build_sha256"):
                problem = "the cached one belongs to another Pyodide build"
            else:
                if not runner.is_file() or runner.read_text() != runner_text:
                    write_atomic(runner, runner_text.encode())
                return Snapshot(path, runner)
        return self._make(deno, deno_dir, spec, runner_text, runner, path, problem)

    def _make(self, deno: str, deno_dir: str | None, spec: str, runner_text: str, runner: Path, path: Path,
              problem: str) -> Snapshot:
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.directory) as tmp:
            script, out = Path(tmp) / "make_snapshot.js", Path(tmp) / "snapshot.bin"
            script.write_text(MAKE_SCRIPT.format(spec=spec))
            readable = ",".join(str(p) for p in (script, *([deno_dir] if deno_dir else [])))
            done = subprocess.run([deno, "run", "--no-config", "--no-lock", "--node-modules-dir=false", "--no-prompt",
                                   f"--allow-read={readable}", f"--allow-write={out}", str(script), str(out)],
                                  capture_output=True, text=True, timeout=300, env=_deno_subprocess_env())
            if done.returncode != 0 or not out.is_file():
                raise SnapshotError(f"making the Pyodide snapshot failed: {done.stderr.strip()[-300:]}")
            build = _pyodide_build(deno_dir, spec)
            if build is None:
                raise SnapshotError("Pyodide's wasm is not in Deno's cache; cannot tell which build a snapshot is for")
            sidecar = {"size": out.stat().st_size, "sha256": _sha256(out), "pyodide": spec,
                       "pyodide_build_sha256": _sha256(build), "made_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
            os.replace(out, path)
        write_atomic(path.with_suffix(".json"), json.dumps(sidecar, indent=2).encode())
        write_atomic(runner, runner_text.encode())
        made = time.perf_counter() - started
        self.notice(f"Pyodide memory snapshot made in {made:.1f} s ({problem}): {path} "
                    f"({sidecar['size'] / 1e6:.0f} MB); warm sandboxes boot from it")
        return Snapshot(path, runner, made)
