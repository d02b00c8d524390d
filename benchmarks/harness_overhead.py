"""What the benchmark harness itself costs, measured on this machine (not a test).

    uv run python benchmarks/harness_overhead.py [--repeats 5] [--bridge-calls 1000]

Reports medians over repeated runs of:
- sandbox boot (Deno start + Pyodide load + DSPy's health check), wall time and CPU (the Deno
  process's own, from /proc, plus DSPy's `deno --version` probe), DSPy's stock boot against the
  warm pool's restore from a Pyodide memory snapshot,
- the RLM planner + ReAct executor's oracle wall time with a sandbox boot overlapping the run (the
  warm pool's next boot) and without one, for each kind of boot,
- warm hand-out (the factory call inside a run, once the pool has a booted interpreter),
- the tool bridge: sandboxed code calling a host tool, as plain calls and through `dspy.Tool`
  as RLM routes them,
- each approach end to end on the oracle model, split into model time (inside the oracle
  engine), tool time (inside the tool functions) and harness time (the rest: DSPy's adapters,
  prompt building, parsing, the sandbox bridge).
"""

from __future__ import annotations

import argparse
import functools
import resource
import statistics
import sys
import time

import dspy  # noqa: E402
from dspy.primitives.python_interpreter import _find_deno_executable, _validate_deno_version  # noqa: E402

import rlmbench  # noqa: E402,F401
from rlmbench.agents.approach import ApproachConfig  # noqa: E402
from rlmbench.agents.registry import REGISTRY
from rlmbench.lm.oracle.engine import OracleEngine  # noqa: E402
from rlmbench.sandbox.interpreter import SandboxSupply, SnapshotInterpreter, TimedInterpreter, process_cpu_seconds  # noqa: E402
from rlmbench.sandbox.snapshot import SnapshotStore  # noqa: E402
from rlmbench.tasks.prompt import task_prompt  # noqa: E402
from rlmbench.tasks.task import Task, required_checks  # noqa: E402
from rlmbench.tasks.task_file import load_task  # noqa: E402
from rlmbench.tasks.tools import make_tools  # noqa: E402


class Stopwatch:
    def __init__(self) -> None:
        self.seconds = 0.0

    def timed(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started

        return wrapper


class TimedOracleEngine(OracleEngine):
    def __init__(self, schema, stopwatch: Stopwatch) -> None:
        super().__init__(schema)
        self.complete = stopwatch.timed(self.complete)


def median(values: list[float]) -> float:
    return statistics.median(values)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class BareRestore(SnapshotInterpreter):
    """The snapshot restored without the warm-up: what the restore alone costs."""

    warm_up = False


def boot(repeats: int, snapshots: SnapshotStore | None, kind: type = SnapshotInterpreter) -> tuple[float, float]:
    """Median wall and CPU seconds of one sandbox boot: stock (snapshots None) or from the snapshot."""
    walls, cpus = [], []
    for _ in range(repeats):
        probes = _children_cpu()
        interp = (kind(snapshots.snapshot(_find_deno_executable())) if snapshots else TimedInterpreter())
        interp.start()
        cpus.append(process_cpu_seconds(interp.deno_process.pid) + _children_cpu() - probes)
        walls.append(interp.boot_seconds)
        interp.shutdown()
    return median(walls), median(cpus)


def version_probe(repeats: int) -> tuple[float, float]:
    """DSPy's `deno --version` check, which it runs on every interpreter start: median wall and CPU."""
    deno, walls, cpus = _find_deno_executable(), [], []
    for _ in range(repeats):
        started, before = time.perf_counter(), _children_cpu()
        _validate_deno_version(deno)
        walls.append(time.perf_counter() - started)
        cpus.append(_children_cpu() - before)
    return median(walls), median(cpus)


def warm_handout(repeats: int, snapshots: SnapshotStore | None) -> float:
    times = []
    with SandboxSupply(warm=True, snapshots=snapshots) as supply:
        for _ in range(repeats):
            supply.reserve()
            started = time.perf_counter()
            interp = supply()
            times.append(time.perf_counter() - started)
            interp.shutdown()
    return median(times)


def bridge_rate(calls: int, repeats: int, through_dspy_tool: bool) -> float:
    def ping(x: int) -> int:
        return x

    tool = ping
    if through_dspy_tool:
        wrapped = dspy.Tool(ping)

        @functools.wraps(ping)
        def tool(x: int) -> int:
            return wrapped(x=x)

    interp = TimedInterpreter(tools={"ping": tool})
    interp.start()
    rates = []
    try:
        interp.execute("ping(x=0)")
        for _ in range(repeats):
            started = time.perf_counter()
            interp.execute(f"for i in range({calls}):\n    ping(x=i)")
            rates.append(calls / (time.perf_counter() - started))
    finally:
        interp.shutdown()
    return median(rates)


class _ReActFormatting:
    """Time spent in DSPy's own ReAct._format_trajectory (measured, not changed)."""

    def __init__(self) -> None:
        self.stopwatch = Stopwatch()
        self._original = dspy.ReAct._format_trajectory

    def __enter__(self) -> Stopwatch:
        dspy.ReAct._format_trajectory = self.stopwatch.timed(self._original)
        return self.stopwatch

    def __exit__(self, *exc) -> None:
        dspy.ReAct._format_trajectory = self._original


def end_to_end(task: Task, approach: str, repeats: int, snapshots: SnapshotStore | None,
               overlap: bool = True) -> dict:
    """overlap: one pool for every run, as the benchmark runs them: each hand-out starts the next boot,
    which overlaps the run. Without: each run's sandbox comes from a pool of its own that boots nothing more."""
    case = task.full_case()
    prompt = task_prompt(task.schema, case)
    entry = REGISTRY[approach]
    rows = []
    shared = SandboxSupply(warm=True, snapshots=snapshots)
    shared.expect(repeats + 1 if entry.needs_sandbox else 0)
    with shared:
        for _ in range(repeats + 1):  # the first run warms DSPy's caches and is dropped
            supply = shared if overlap else SandboxSupply(warm=True, snapshots=snapshots)
            if not overlap:
                supply.expect(1 if entry.needs_sandbox else 0)
            config = ApproachConfig(interpreter_factory=supply).for_checks(
                len(required_checks(task.schema, case.inputs)))
            model, tool_time = Stopwatch(), Stopwatch()
            lm = dspy.LM("oracle/deterministic", engine=TimedOracleEngine(task.schema, model), cache=False,
                         num_retries=0)
            tools = [tool_time.timed(t) for t in make_tools(task)]
            if entry.needs_sandbox:
                supply.reserve()
            with dspy.context(lm=lm), dspy.track_usage() as usage, _ReActFormatting() as formatting:
                started = time.perf_counter()
                entry.run(prompt, tools, config)
                wall = time.perf_counter() - started
            if not overlap:
                supply.close()
            calls = sum(len(v) for v in usage.usage_data.values())
            rows.append({"wall": wall, "model": model.seconds, "tools": tool_time.seconds,
                         "harness": wall - model.seconds - tool_time.seconds, "lm_calls": calls,
                         "react_formatting": formatting.seconds})
    rows = rows[1:]
    result = {key: median([r[key] for r in rows])
              for key in ("wall", "model", "tools", "harness", "react_formatting")}
    result["lm_calls"] = rows[0]["lm_calls"]
    result["harness_per_lm_call"] = result["harness"] / result["lm_calls"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bridge-calls", type=int, default=1000)
    parser.add_argument("--task", default="drugs", help="the task the end-to-end rows run (default drugs)")
    args = parser.parse_args()
    dspy.configure(track_usage=True)
    task = load_task(args.task)

    print(f"Harness overhead, medians of {args.repeats} repeats (oracle model, task {task.name}, this machine)\n")
    snapshots = SnapshotStore(lambda line: print(f"({line})"))
    snapshots.snapshot(_find_deno_executable())  # made (once) before anything is timed
    for name, store, kind in (("stock (DSPy's loadPyodide)", None, None),
                              ("snapshot restore alone", snapshots, BareRestore),
                              ("snapshot + warm-up (pool)", snapshots, SnapshotInterpreter)):
        wall, cpu = boot(args.repeats, store, kind)
        print(f"Sandbox boot, {name:<27}{wall * 1000:8.0f} ms wall {cpu * 1000:8.0f} ms CPU")
    wall, cpu = version_probe(args.repeats)
    print(f"  of which DSPy's deno --version check {wall * 1000:6.0f} ms wall {cpu * 1000:8.0f} ms CPU (every start)")
    print(f"Sandbox warm hand-out             {warm_handout(args.repeats, snapshots) * 1000:8.3f} ms")
    print(f"Tool bridge, plain function       {bridge_rate(args.bridge_calls, args.repeats, False):8.0f} calls/s")
    print(f"Tool bridge, through dspy.Tool    {bridge_rate(args.bridge_calls, args.repeats, True):8.0f} calls/s")
    print()
    for approach in ("hybrid", "rlm"):
        print(f"{REGISTRY[approach].label + ', oracle wall time':<48} in the pool as it runs   nothing else booting")
        for name, store in (("stock boot (next boot overlaps the run)", None),
                            ("snapshot boot (next boot between runs)", snapshots)):
            together = end_to_end(task, approach, args.repeats, store, overlap=True)["wall"]
            alone = end_to_end(task, approach, args.repeats, store, overlap=False)["wall"]
            print(f"  {name:<46}{together * 1000:11.0f} ms {alone * 1000:17.0f} ms")
    print()
    print(f"{'Approach (warm pool)':<22}{'wall':>9}{'model':>9}{'tools':>9}{'harness':>9}{'LM calls':>10}"
          f"{'harness/call':>14}{'of which ReAct formatting':>28}")
    for approach in REGISTRY:
        r = end_to_end(task, approach, args.repeats, snapshots)
        print(f"{approach:<22}{r['wall'] * 1000:7.0f}ms{r['model'] * 1000:7.0f}ms{r['tools'] * 1000:7.1f}ms"
              f"{r['harness'] * 1000:7.0f}ms{r['lm_calls']:>10}{r['harness_per_lm_call'] * 1000:11.2f} ms"
              f"{r['react_formatting'] * 1000:22.0f} ms")
    print("\nmodel: inside the oracle engine (parsing its prompt, counting tokens); tools: inside the tool")
    print("functions; harness: the rest of the wall time (DSPy modules and adapters, the sandbox bridge).")
    print("'ReAct formatting' is DSPy's ReAct._format_trajectory, which builds a new Signature class")
    print("from every trajectory key on every step: part of dspy.ReAct as shipped, measured, not changed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
