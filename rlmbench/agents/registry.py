"""The approaches under test, one entry each. Adding one is a module beside this file and a line here."""

from __future__ import annotations

from rlmbench.agents.approach import Approach, react_steps, rlm_iterations
from rlmbench.agents.external import AgentTask, endpoint_approach
from rlmbench.agents.hybrid import PlanError, run_hybrid
from rlmbench.agents.react import run_react
from rlmbench.agents.react_v2 import run_react_v2
from rlmbench.agents.rlm import run_rlm
from rlmbench.agents.rlm_batch import CALL_MANY_WORKERS, run_rlm_batch
from rlmbench.results.traces import TRACE_KINDS

REGISTRY: dict[str, Approach] = {a.name: a for a in (
    Approach("react", "ReAct", run_react, runs_code=False, needs_sandbox=False, one_call_per_check=True,
             trace=TRACE_KINDS["react"], limits=react_steps),
    Approach("rlm", "RLM Direct", run_rlm, runs_code=True, needs_sandbox=True, one_call_per_check=False,
             trace=TRACE_KINDS["rlm"], limits=rlm_iterations, reference=True),
    Approach("hybrid", "RLM planner + ReAct executor", run_hybrid, runs_code=True, needs_sandbox=True,
             one_call_per_check=True, trace=TRACE_KINDS["plan_then_react"],
             limits=lambda config: (config.react_max_iters, config.rlm_max_iters),
             failure_categories=(("plan_invalid", (PlanError,)),)),
    Approach("react_v2", "ReActV2", run_react_v2, runs_code=False, needs_sandbox=False, one_call_per_check=False,
             trace=TRACE_KINDS["tool_turns"], limits=react_steps),
    Approach("rlm_batch", "RLM Direct + call_many", run_rlm_batch, runs_code=True, needs_sandbox=True,
             one_call_per_check=False, trace=TRACE_KINDS["rlm"], limits=rlm_iterations, by_default=False,
             notice=(f"RLM Direct + call_many is DSPy's RLM plus a batch primitive of this benchmark's, not DSPy's: "
                     f"call_many(tool_name, list_of_kwargs) runs up to {CALL_MANY_WORKERS} calls at once on the "
                     f"host (DSPy 3.4.1 runs an RLM's tool calls one at a time). It shows what the parallelism "
                     f"claim would be worth if DSPy had it.")),
)}


def _import_smolagents() -> None:
    from rlmbench.agents.smol.arms import warm_up  # smolagents is imported only for an invocation of its arms

    warm_up()


def _smol_code(task: AgentTask):
    from rlmbench.agents.smol.arms import run_code_agent

    return run_code_agent(task)


def _smol_tools(task: AgentTask):
    from rlmbench.agents.smol.arms import run_tool_calling_agent

    return run_tool_calling_agent(task)


_SMOLAGENTS = ("smolagents' own prompts, parser and loop; its model is the benchmark's metered endpoint and its tools "
               "the task's, over the same ledger as every arm's")
for _entry in (
    endpoint_approach("smol_code", "smolagents CodeAgent", _smol_code, trace=TRACE_KINDS["smol_code"],
                      limits=rlm_iterations, sandbox=True, framework="smolagents", prepare=_import_smolagents,
                      notice=f"smolagents CodeAgent is {_SMOLAGENTS}; its code ran in the benchmark's Deno/Pyodide "
                             "sandbox (the pool RLM Direct uses), not in smolagents' in-process executor; its "
                             "max_steps is --rlm-max-iters."),
    endpoint_approach("smol_tools", "smolagents ToolCallingAgent", _smol_tools, trace=TRACE_KINDS["smol_tool_turns"],
                      limits=react_steps, framework="smolagents", prepare=_import_smolagents,
                      notice=f"smolagents ToolCallingAgent is {_SMOLAGENTS}; a step's tool calls run at once in its "
                             "threads; its max_steps is the step-wise arms' limit."),
):
    REGISTRY[_entry.name] = _entry
APPROACHES: tuple[str, ...] = tuple(REGISTRY)
"""Every built-in arm --approaches accepts."""


def register(approach: Approach) -> None:
    """An arm of this invocation's beside the built-ins (your agent, --agent), through the same seam."""
    REGISTRY[approach.name] = approach
DEFAULT_APPROACHES: tuple[str, ...] = tuple(name for name, a in REGISTRY.items() if a.by_default)
"""The arms an invocation runs without --approaches."""


def fits(approach: str, required_checks: int, react_limit: int) -> bool:
    """Whether an approach runs on a case of this many checks (the one rule, for the benchmark and the sweep)."""
    return not REGISTRY[approach].one_call_per_check or required_checks <= react_limit


def reference_arm(approaches: list[str]) -> str | None:
    """The arm the others are compared with: the registry's reference if it ran, else the first; None for one arm."""
    if len(approaches) < 2:
        return None
    return next((a for a in approaches if REGISTRY[a].reference), approaches[0])
