"""Running the scale sweep: the same benchmark on generated cases of growing size.

For each size (one length per list of the task, `16x6`) every approach runs N times on a
generated task with known ground truth; report/growth.py turns the records into the sweep's
tables and the fitted token growth.

Approaches that make one LM call per check (ReAct and the hybrid's executor) are skipped above
`react_limit` checks (approaches.fits, the same rule as the benchmark's): at 2,225 checks that is
2,225 LM calls per run with prompts that no hosted context window holds. The skip is printed,
never silent.
"""

from __future__ import annotations

from dataclasses import dataclass

from rlmbench.agents.approach import DEFAULT_REACT_LIMIT, ApproachConfig
from rlmbench.agents.registry import REGISTRY, fits
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.behaviour import ToolSettings
from rlmbench.tasks.sizes import Size
from rlmbench.tasks.synthetic import checks_at, synthetic_task
from rlmbench.tasks.task import Task


@dataclass
class SweepResult:
    skipped: dict[str, list[str]]  # approach -> sizes it did not run
    interrupted: bool


def planned_runs(task: Task, approaches: list[str], sizes: tuple[Size, ...], react_limit: int) -> dict[str, list[Size]]:
    return {a: [s for s in sizes if fits(a, checks_at(task.schema, s), react_limit)] for a in approaches}


def run_sweep(task: Task, approaches: list[str], sizes: tuple[Size, ...], runs: int, models: list[ModelRun],
              config: ApproachConfig, on_record, sandboxes: SandboxSupply | None, seed: int = 0,
              react_limit: int = DEFAULT_REACT_LIMIT, timeout: float | None = None, watch=None,
              tool_settings: ToolSettings = ToolSettings()) -> SweepResult:
    plan = planned_runs(task, approaches, sizes, react_limit)
    if sandboxes is not None:
        sandboxes.expect(len(models) * runs * sum(len(plan[a]) for a in approaches if REGISTRY[a].needs_sandbox))
    for size in sizes:
        chosen = [a for a in approaches if size in plan[a]]
        if not chosen:
            continue
        _, interrupted = run_benchmark(synthetic_task(task, size, seed), chosen, runs, models, config, on_record,
                                       case_label=str(size), sandboxes=sandboxes, timeout=timeout,
                                       expect_sandboxes=False, watch=watch, tool_settings=tool_settings)
        if interrupted:
            return SweepResult(_skipped(plan, sizes), True)
    return SweepResult(_skipped(plan, sizes), False)


def _skipped(plan: dict[str, list[Size]], sizes: tuple[Size, ...]) -> dict[str, list[str]]:
    return {a: [str(s) for s in sizes if s not in ran] for a, ran in plan.items() if len(ran) < len(sizes)}
