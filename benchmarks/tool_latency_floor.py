"""How close the harness comes to the waiting the task itself demands, measured on this machine (not a test).

    uv run python benchmarks/tool_latency_floor.py [--latency-ms 50] [--repeats 5]

On `drugs` with every tool at a fixed latency L, each run of the oracle must wait at least:
- RLM Direct: 35 x L, since DSPy 3.4.1 runs an RLM's tool calls one at a time;
- RLM Direct + call_many: ceil(21 / 8) + ceil(14 / 8) rounds of L, as the oracle batches each tool's checks
  and call_many runs 8 at a time.
It prints each arm's median wall time, the floor, and their ratio: the part above 1 is everything else a
run does (the oracle's two LM calls, DSPy's adapters, the sandbox, the bridge). That part is paid at
0 ms too, so it also prints the wall time at 0 ms and (wall at L - wall at 0) / floor: the waiting the
latency added against the waiting the task demands, 1.00 when the harness adds nothing on top of it.
The RLM's sandbox is booted warm, outside the timed run, as the benchmark does.
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
from rlmbench.run.runner import run_once
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import required_checks
from rlmbench.tasks.task_file import load_task


def floors(latency_s: float) -> dict[str, float]:
    task = load_task("drugs")
    checks = required_checks(task.schema, task.full_case().inputs)
    per_tool = [sum(c.tool == t.name for c in checks) for t in task.schema.required_tools]
    return {"rlm": len(checks) * latency_s,
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
    with SandboxSupply(warm=True) as sandboxes:
        sandboxes.expect(2 * 2 * (args.repeats + 1))

        def median_wall(approach: str, tools: ToolSettings) -> float:
            walls = []
            for run in range(args.repeats + 1):  # the first run warms the tokenizer and imports: not counted
                with dspy.context(lm=lm, track_usage=True):
                    record, _ = run_once(task, approach, run + 1, lm, ApproachConfig(), sandboxes=sandboxes,
                                         tool_settings=tools)
                assert record.complete, (approach, record.failure)
                walls.append(record.wall_time_s)
            return statistics.median(walls[1:])

        for approach in ("rlm", "rlm_batch"):
            at_latency, at_zero = median_wall(approach, settings), median_wall(approach, ToolSettings())
            print(f"  {approach:<10} wall {at_latency:.3f} s   floor {floor[approach]:.3f} s   "
                  f"ratio {at_latency / floor[approach]:.2f}   wall at 0 ms {at_zero:.3f} s   "
                  f"added / floor {(at_latency - at_zero) / floor[approach]:.2f}")

if __name__ == "__main__":
    main()
