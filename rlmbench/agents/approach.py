"""What an approach is: the seam every architecture under test plugs into (the built-ins too).

An approach's `run(task, tools, config) -> ApproachOutput` gets the task as any framework can take it
(tasks.prompt.TaskPrompt: the text, the inputs, the answer's JSON schema; DSPy's arms build their signatures from
it) and only runs its agent; timing, usage and coverage are measured around it by the runner, so every approach is
measured the same way. Its `Approach` entry says everything else the runner, the diagnostics and the report need:
its label, whether it needs a sandbox, whether it spends one LM call per check, the shape of its
trace (`results.traces.TraceKind`: how to count its steps, diagnose them and draw them), its step
limit, and whether it is the reference arm the others are compared with.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

import dspy

from rlmbench.agents.signatures import TaskSignatures, answer_of
from rlmbench.results.meta import Arm
from rlmbench.results.traces import TraceKind
from rlmbench.sandbox.interpreter import OfflinePythonInterpreter
from rlmbench.tasks.prompt import TaskPrompt

STEP_HEADROOM = 5
"""ReAct's default step limit is the required checks plus this (35 checks -> 40 steps)."""
DEFAULT_REACT_LIMIT = 300
"""Approaches that make one LM call per check are skipped above this many required checks."""


@dataclass(frozen=True)
class ApproachConfig:
    react_max_iters: int | None = None
    """Every step-wise arm's step limit: ReAct's steps, ReActV2's turns, the hybrid executor's steps (the name is
    DSPy's parameter). None: the calls a perfect agent makes (each required check and follow-up, and each check's
    retry after a transient failure) + STEP_HEADROOM."""
    rlm_max_iters: int = 10
    rlm_max_llm_calls: int = 20
    answer_form: str = "structured"
    """`structured`: the typed findings and the narrative; `prose`: the narrative only (signatures.py)."""
    interpreter_factory: Callable[[], Any] = OfflinePythonInterpreter
    endpoint: Any = None
    """The invocation's metered model endpoint (run.endpoint.MeteredEndpoint), for arms that are not DSPy's; None
    when no arm of the invocation uses it."""

    def for_checks(self, calls: int) -> "ApproachConfig":
        """The config with the step limit resolved for a case a perfect agent does in `calls` tool calls."""
        if self.react_max_iters is not None:
            return self
        return replace(self, react_max_iters=calls + STEP_HEADROOM)


@dataclass
class ApproachOutput:
    narrative: str
    """The answer's narrative field."""
    trace: dict[str, Any] = field(default_factory=dict)
    """The approach's steps, in the shape its TraceKind reads."""
    answer: dict[str, Any] = field(default_factory=dict)
    """The typed answer as plain data (signatures.answer_of)."""


def output_of(pred: dspy.Prediction, signatures: TaskSignatures, trace: dict[str, Any]) -> ApproachOutput:
    """What every approach returns: the narrative, its trace, and the typed answer as plain data."""
    return ApproachOutput(pred.get(signatures.narrative_field), trace, answer_of(pred, signatures))


RunApproach = Callable[[TaskPrompt, list[Callable], ApproachConfig], ApproachOutput]


def react_steps(config: ApproachConfig) -> tuple[int | None]:
    return (config.react_max_iters,)


def rlm_iterations(config: ApproachConfig) -> tuple[int]:
    return (config.rlm_max_iters,)


FailureCategories = tuple[tuple[str, tuple[type[BaseException], ...]], ...]
"""(category, exception types): how an arm's own exceptions are counted (run.failures tries them first)."""


@dataclass(frozen=True)
class Approach:
    name: str
    """The registry key, used on the command line and in the records (`rlm`)."""
    label: str
    """What the summary calls it."""
    run: RunApproach
    runs_code: bool
    """The model writes code that the arm runs: its cells are logged and diagnosed (shadowed tools, repeats)."""
    needs_sandbox: bool
    """Needs a Deno/Pyodide interpreter from the benchmark's pool (warm or cold) for that code."""
    one_call_per_check: bool
    """Spends an LM call on every check: skipped above DEFAULT_REACT_LIMIT (--react-limit) checks."""
    trace: TraceKind
    """The shape of its trace: how its steps are counted, diagnosed and drawn."""
    limits: Callable[[ApproachConfig], tuple[int | None, ...]]
    """Its step limits under a config, the one its steps are counted against first; its TraceKind names the rest
    (the hybrid's planner iterations)."""
    reference: bool = False
    """The arm the differences table compares the others with (one entry has it)."""
    by_default: bool = True
    """Runs when --approaches is not given; False: on request only."""
    notice: str | None = None
    """Said under every summary of an invocation that ran it: what a reader must know about the arm."""
    failure_categories: FailureCategories = ()
    """Its own exceptions' failure categories (the hybrid's PlanError is `plan_invalid`)."""
    uses_endpoint: bool = False
    """Its model client is pointed at the benchmark's metered endpoint (an arm that is not DSPy's)."""
    prepare: Callable[[], None] | None = None
    """Loads what the arm needs once per invocation (smolagents' import), before any run's clock starts, so the
    first run's wall time is not the import's."""
    framework: str | None = "DSPy"
    """The agent framework whose module it runs; None for your agent (the verdict leaves it out: report.verdict)."""

    def step_limit(self, config: ApproachConfig) -> int | None:
        """The limit its steps are counted against (diagnostics, the summary's steps used / limit)."""
        return self.limits(config)[0]

    def __post_init__(self) -> None:
        if not isinstance(self.trace, TraceKind):
            raise TypeError(f"approach {self.name}: trace must be a results.traces.TraceKind")

    def arm(self) -> Arm:
        """How the results header records it, for a report that has no registry."""
        return Arm(name=self.name, label=self.label, uses_sandbox=self.needs_sandbox, runs_code=self.runs_code,
                   one_call_per_check=self.one_call_per_check, trace_kind=self.trace.name, framework=self.framework)
