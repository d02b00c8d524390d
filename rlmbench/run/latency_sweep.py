"""Running the whole comparison at several tool latencies (`--tool-latency 0,25,100`).

The study's timing claim was measured on tools that answer at once. DSPy 3.4.1 waits for each tool call
in turn in every arm, so a latency adds to every arm a wait in proportion to its calls, not to its LM
calls: the faster arm at 0 ms may not be the faster one at 100 ms. Each latency runs every arm N times
on the task's own lists; report/latency.py finds where each pair's order changes.
"""

from __future__ import annotations

from dataclasses import replace

from rlmbench.agents.approach import ApproachConfig
from rlmbench.agents.registry import REGISTRY
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import Task


def latency_label(ms: float) -> str:
    """How a run of the sweep is named (its record's `case`): `25 ms`."""
    return Latency(ms).text()


def run_latency_sweep(task: Task, approaches: list[str], latencies: tuple[float, ...], runs: int,
                      models: list[ModelRun], config: ApproachConfig, on_record, sandboxes: SandboxSupply | None,
                      tools: ToolSettings, timeout: float | None = None, watch=None) -> bool:
    """Every latency in turn; True when Ctrl-C cut it short."""
    if sandboxes is not None:
        sandboxes.expect(len(models) * runs * len(latencies) * sum(REGISTRY[a].needs_sandbox for a in approaches))
    for ms in latencies:
        def tagged(record, trace, ms=ms) -> None:
            record.tool_latency_ms = ms
            on_record(record, trace)

        _, interrupted = run_benchmark(task, approaches, runs, models, config, tagged, case=task.full_case(),
                                       case_label=latency_label(ms), sandboxes=sandboxes, timeout=timeout,
                                       expect_sandboxes=False, watch=watch,
                                       tool_settings=replace(tools, latency=Latency(ms)))
        if interrupted:
            return True
    return False
