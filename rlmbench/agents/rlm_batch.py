"""RLM Direct + call_many: DSPy's RLM with one more function in its sandbox, a batch primitive DSPy does not have.

DSPy 3.4.1 runs an RLM's tool calls one at a time: the sandbox's tool wrapper is synchronous and threads
cannot start inside Pyodide, so `[check(a, b) for a, b in pairs]` waits for each call in turn. The study's
"parallelism" claim needs what this arm adds: `call_many(tool_name, list_of_kwargs)`, one bridge call that
runs the calls on the host in a bounded pool (8 at once, as DSPy's own `llm_query_batched` bounds its
sub-LM calls) and returns their results in order, a failed call's error in its place. Every call goes
through the same tool functions and the same ledger as every other arm's. It is the benchmark's, not
DSPy's: the arm's label says so. The pool is the run's: its threads start with the first batch and serve
every later one, so a batch pays no thread start-up on top of its tools' waiting.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from rlmbench.agents.approach import ApproachConfig, ApproachOutput
from rlmbench.agents.rlm import run_rlm
from rlmbench.tasks.prompt import TaskPrompt

CALL_MANY_WORKERS = 8
"""Calls call_many runs at once: DSPy's llm_query_batched default for sub-LM calls."""
CALL_MANY = "call_many"


def make_call_many(tools: list[Callable], pool: ThreadPoolExecutor) -> Callable[..., list]:
    """The batch function the sandbox gets, over the run's own tools, running them in the run's `pool`."""
    by_name = {tool.__name__: tool for tool in tools}

    def call_many(tool_name: str, list_of_kwargs: list[dict]) -> list:
        """Call one tool once for each dict of keyword arguments, several calls at a time on the host. Returns
        the results in the order of list_of_kwargs; a call that raised leaves {"error": "<type>: <message>"}
        in its place, so the others are kept and the failed ones can be called again."""
        tool = by_name.get(tool_name)
        if tool is None:
            raise ValueError(f"call_many: no tool named {tool_name!r}; tools: {', '.join(by_name)}")
        if not isinstance(list_of_kwargs, list) or not all(isinstance(k, dict) for k in list_of_kwargs):
            raise ValueError("call_many: list_of_kwargs must be a list of dicts, one dict of keyword arguments "
                             "per call")

        def one(kwargs: dict) -> Any:
            try:
                return tool(**kwargs)
            except Exception as exc:  # in place, as the contract says: the batch goes on
                return {"error": f"{type(exc).__name__}: {exc}"}

        return list(pool.map(one, list_of_kwargs))

    call_many.__name__ = CALL_MANY
    return call_many


def run_rlm_batch(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
    with ThreadPoolExecutor(max_workers=CALL_MANY_WORKERS, thread_name_prefix="call_many") as pool:
        return run_rlm(task, [*tools, make_call_many(tools, pool)], config)
