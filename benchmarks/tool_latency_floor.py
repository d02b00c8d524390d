"""How close the harness comes to the waiting the task itself demands, measured on this machine (not a test).

    uv run python benchmarks/tool_latency_floor.py [--latency-ms 50] [--repeats 5]

On `drugs` with every tool at a fixed latency L, each run of the oracle must wait at least:
- ReAct, ReActV2 and RLM Direct: 35 x L, since ReAct makes one call a step, DSPy 3.4.1's ReActV2 runs a turn's
  calls in a loop and its RLM runs tool calls one at a time;
- RLM Direct + call_many: ceil(21 / 8) + ceil(14 / 8) rounds of L, as the oracle batches each tool's checks
  and call_many runs 8 at a time.
It prints each arm's median wall time, the floor, and their ratio: the part above 1 is everything else a
run does (the oracle's two LM calls, DSPy's adapters, the sandbox, the bridge). That part is paid at
0 ms too, so it also prints the wall time at 0 ms and (wall at L - wall at 0) / floor: the waiting the
latency added against the waiting the task demands, 1.00 when the harness adds nothing on top of it.
For RLM Direct it then says where each call's time goes, at 0 ms and at L, from the run records' own
figures: the benchmark's tool (its answer and ledger, the latency slept from the call's start), DSPy's
tool path around it (dspy.Tool's argument check, the JSON reply: DSPy's, as shipped) and the sandbox's
side of the bridge (Deno and Pyodide, waking after each wait). Only the first is the harness's.
The RLM's sandbox comes from the benchmark's own pool (a Pyodide snapshot restored between runs, outside the
timed run), so the figures are what `rlmbench run` pays.
"""

from __future__ import annotations

import argparse
import math
import statistics

import dspy

from rlmbench.agents.approach import ApproachConfig
from rlmbench.agents.rlm_batch import CALL_MANY_WORKERS
from rlmbench.lm.models import build_lm
from rlmbench.lm.settings import ModelSettings
from rlmbench.results.records import RunRecord
from rlmbench.run.runner import run_once
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import required_checks
from rlmbench.tasks.task_file import load_task


def floors(latency_s: float) -> dict[str, float]:
    task = load_task("drugs")
    checks = required_checks(task.schema, task.full_case().inputs)
    per_tool = [sum(c.tool == t.name for c in checks) for t in task.schema.required_tools]
    return {"react": len(checks) * latency_s, "react_v2": len(checks) * latency_s, "rlm": len(checks) * latency_s,
            "rlm_batch": sum(math.ceil(n / CALL_MANY_WORKERS) for n in per_tool) * latency_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    task = load_task("drugs")
    lm = build_lm(ModelSettings(model="oracle"), task.schema)
    settings = ToolSettings(latency=Latency(args.latency_ms))
    floor = floors(args.latency_ms / 1000)
    print(f"drugs, every tool {args.latency_ms:g} ms, oracle, median of {args.repeats} runs (sandbox booted warm):")
    with SandboxSupply.for_benchmark(cold=False, notice=print) as sandboxes:
        sandboxes.expect(2 * 2 * (args.repeats + 1))  # the two sandboxed arms, at two latencies

        def runs(approach: str, tools: ToolSettings) -> list[tuple[RunRecord, dict]]:
            out = []
            for run in range(args.repeats + 1):  # the first run warms the tokenizer and imports: not counted
                with dspy.context(lm=lm, track_usage=True):
                    record, trace = run_once(task, approach, run + 1, lm, ApproachConfig(), sandboxes=sandboxes,
                                             tool_settings=tools)
                assert record.complete, (approach, record.failure)
                out.append((record, trace))
            return out[1:]

        latency_s = args.latency_ms / 1000
        for approach in floor:
            with_latency, at_zero = runs(approach, settings), runs(approach, ToolSettings())
            wall, wall_zero = median_wall(with_latency), median_wall(at_zero)
            print(f"  {approach:<10} wall {wall:.3f} s   floor {floor[approach]:.3f} s   "
                  f"ratio {wall / floor[approach]:.2f}   wall at 0 ms {wall_zero:.3f} s   "
                  f"added / floor {(wall - wall_zero) / floor[approach]:.2f}")
            if approach == "rlm":
                at_l, at_0 = per_call(with_latency, latency_s), per_call(at_zero, 0.0)
                print("    per call, ms (median over runs)      at 0 ms   at L     added by the wait")
                for part in at_l:
                    print(f"    {part:<37} {at_0[part]:7.3f}  {at_l[part]:7.3f}  {at_l[part] - at_0[part]:+7.3f}")
                harness = at_l["the benchmark's tool, above L"] - at_0["the benchmark's tool, above L"]
                print(f"    the harness's own share of the added time: {harness:+.3f} ms a call, "
                      f"{harness / args.latency_ms:+.2%} of the floor")


def median_wall(runs: list[tuple[RunRecord, dict]]) -> float:
    return statistics.median(record.wall_time_s for record, _ in runs)


def per_call(runs: list[tuple[RunRecord, dict]], latency_s: float) -> dict[str, float]:
    """Milliseconds a call spends in each part of the bridge, from a run's time split and ledger: the median over
    the runs of each part's mean per call."""
    def parts(record: RunRecord, trace: dict) -> dict[str, float]:
        split, n = record.time_split, len(trace["tool_calls"])
        in_tools = sum(c["duration_s"] for c in trace["tool_calls"])
        return {"the benchmark's tool, above L": (split.tools_s - n * latency_s) / n * 1000,
                "  of which its wrapper (timing)": (split.tools_s - in_tools) / n * 1000,
                "DSPy's tool path (dspy.Tool, JSON)": (split.tool_path_s - split.tools_in_cells_s) / n * 1000,
                "the sandbox (Deno, Pyodide, pipe)": (split.cells_s - split.tool_path_s) / n * 1000}
    measured = [parts(record, trace) for record, trace in runs]
    return {part: statistics.median(m[part] for m in measured) for part in measured[0]}

if __name__ == "__main__":
    main()
