"""Running the whole comparison at several values of one tool behaviour: `--tool-latency 0,25,100` or
`--tool-answer-tokens 0,2000`.

The study's claims were measured on tools that answer at once with a sentence. A latency adds to every arm a wait
in proportion to its tool calls (DSPy 3.4.1 waits for each in turn), so the faster arm at 0 ms may not be the
faster one at 100 ms; an answer's size adds to a step-wise arm's every later prompt and to a code arm's only what
its code prints, so the cheaper arm may be cheaper by far more, until a prompt passes the model's window. Each
value runs every arm N times on the task's own lists; report/tool_sweep.py reads the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

from rlmbench.agents.approach import ApproachConfig
from rlmbench.agents.registry import REGISTRY
from rlmbench.results.records import RunRecord
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.sandbox.interpreter import SandboxSupply
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.task import Task


@dataclass(frozen=True)
class SweepAxis:
    """One tool behaviour a sweep varies: how a value sets the tools, tags a run and names it."""

    flag: str
    applied: Callable[[ToolSettings, float], ToolSettings]
    tag: Callable[[RunRecord, float], None]
    label: Callable[[float], str]
    """How a run of the sweep is named (its record's `case`): `25 ms`, `2,000 tokens`."""


def _tag_latency(record: RunRecord, value: float) -> None:
    record.tool_latency_ms = value


def _tag_answer_tokens(record: RunRecord, value: float) -> None:
    record.tool_answer_tokens = int(value)


LATENCY = SweepAxis("--tool-latency", lambda tools, ms: replace(tools, latency=Latency(ms)), _tag_latency,
                    lambda ms: Latency(ms).text())
ANSWER_TOKENS = SweepAxis("--tool-answer-tokens", lambda tools, n: replace(tools, answer_tokens=int(n)),
                          _tag_answer_tokens, lambda n: f"{int(n):,} tokens")


def run_tool_sweep(axis: SweepAxis, values: tuple[float, ...], task: Task, approaches: list[str], runs: int,
                   models: list[ModelRun], config: ApproachConfig, on_record, sandboxes: SandboxSupply | None,
                   tools: ToolSettings, timeout: float | None = None, watch=None) -> bool:
    """Every value in turn; True when Ctrl-C cut it short."""
    if sandboxes is not None:
        sandboxes.expect(len(models) * runs * len(values) * sum(REGISTRY[a].needs_sandbox for a in approaches))
    for value in values:
        def tagged(record, trace, value=value) -> None:
            axis.tag(record, value)
            on_record(record, trace)

        _, interrupted = run_benchmark(task, approaches, runs, models, config, tagged, case=task.full_case(),
                                       case_label=axis.label(value), sandboxes=sandboxes, timeout=timeout,
                                       expect_sandboxes=False, watch=watch, tool_settings=axis.applied(tools, value))
        if interrupted:
            return True
    return False
