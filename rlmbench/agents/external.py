"""Your own agent as an arm: `--agent NAME=module:function` (or `path/to/file.py:function`).

The function gets one argument, an AgentTask: the task as text, its inputs, the tools (plain functions wrapped by
the same ledger as every arm's: coverage, latency, transient failures, follow-ups and your own tools all apply), the
same tools as OpenAI tool definitions, the typed answer's JSON schema, and an OpenAI-compatible endpoint of the
benchmark's (run.endpoint) with a key for this run only, which meters every request as every arm's LM calls are
metered. It returns the typed answer (a dict, scored like every arm's), text (scored as the narrative), or an
AgentReply (the answer with its own steps). The smolagents arms are written through this same seam (agents/smol/).

The module runs in the benchmark's own process, trusted like a task's Python functions; whatever model output it
chooses to execute is its own responsibility.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import dspy
import pydantic

from rlmbench.agents.approach import Approach, ApproachConfig, ApproachOutput, FailureCategories
from rlmbench.lm.gated import current_run
from rlmbench.results.traces import TRACE_KINDS, TraceKind
from rlmbench.tasks.prompt import TaskPrompt, answer_model


@dataclass(frozen=True)
class AgentTask:
    """The one argument your agent's function gets."""

    prompt: str
    """The task as text: its instructions, each input list, and the answer's fields."""
    inputs: dict[str, list[str]]
    """Each input list's items, exactly as the task spells them."""
    tools: list[Callable[..., Any]] = field(repr=False)
    """The task's tools as plain Python functions (`__name__`, docstring, signature): call them, from any thread."""
    tool_schemas: list[dict]
    """The same tools as OpenAI tool definitions, to send as `tools`."""
    answer_schema: dict
    """The typed answer's JSON schema: return a dict of these fields (or send it as `response_format`)."""
    base_url: str
    """The benchmark's OpenAI-compatible endpoint (`http://127.0.0.1:PORT/v1`): point your client here."""
    api_key: str = field(repr=False)
    """This run's key for that endpoint; it is not the provider's key and works for this run only."""
    model: str
    """The model the endpoint answers with (it ignores the request's own `model`)."""
    deadline: float | None
    """`time.time()` when the run's --timeout budget runs out; None without --timeout."""
    step_limit: int | None = None
    """The steps the arm's entry allows under this invocation's flags (the smolagents arms' `max_steps`); None for
    your agent, which sets its own."""
    sandbox: Callable[[], Any] | None = field(default=None, repr=False)
    """For an arm registered with `sandbox=True` (smolagents' CodeAgent; your function with the attribute
    `sandbox = True`): a fresh Deno/Pyodide interpreter from the
    benchmark's pool (`execute(code, variables)`, DSPy's PythonInterpreter), the task's tools callable inside it
    over the same bridge and ledger as the RLM's, every cell logged; the caller shuts it down. None otherwise."""


@dataclass
class AgentReply:
    """What an agent may return instead of the bare answer: the answer and its own steps."""

    answer: dict | str
    """The typed answer (a dict of the answer's fields), or text (scored as the narrative)."""
    steps: dict = field(default_factory=dict)
    """The agent's steps, in the shape its registry entry's TraceKind reads; merged into the run's trace."""
    ended_by_agent: bool = True
    """False where the agent stopped at its step limit and its framework forced an answer."""


class AgentSpecError(Exception):
    """A bad --agent; str() is the one line to show."""


class AgentAnswerError(Exception):
    """The agent returned something that is not an answer (a dict of the answer's fields, or text)."""


def tool_schema(tool: Callable[..., Any]) -> dict:
    """A task tool as an OpenAI tool definition: every argument a required string, the docstring its description."""
    names = list(inspect.signature(tool).parameters)
    return {"type": "function", "function": {
        "name": tool.__name__, "description": inspect.getdoc(tool) or "",
        "parameters": {"type": "object", "properties": {n: {"type": "string"} for n in names}, "required": names,
                       "additionalProperties": False}}}


def _module(spec: str, flag: str) -> Any:
    """`pkg.module` from the working folder first, then the path; or a `.py` file's path."""
    if spec.endswith(".py") or "/" in spec:
        path = Path(spec)
        if not path.is_file():
            raise AgentSpecError(f"{flag}: no such file {spec!r}")
        loader = importlib.util.spec_from_file_location(f"rlmbench_agent_{path.stem}", path)
        module = importlib.util.module_from_spec(loader)
        sys.path.insert(0, str(path.resolve().parent))  # so the file's own imports resolve from its folder
        try:
            loader.loader.exec_module(module)
        finally:
            sys.path.remove(str(path.resolve().parent))
        return module
    sys.path.insert(0, str(Path.cwd()))
    try:
        return importlib.import_module(spec)
    finally:
        sys.path.remove(str(Path.cwd()))


def load_agent(given: str, taken: set[str]) -> tuple[str, Callable[[AgentTask], Any]]:
    """`NAME=SPEC` -> (NAME, the function), or AgentSpecError naming the problem; `taken`: names already in use."""
    flag = f"--agent {given}"
    name, equals, spec = given.partition("=")
    name = name.strip()
    if not equals or not name or not spec:
        raise AgentSpecError(f"{flag}: give NAME=module:function or NAME=path/to/file.py:function")
    if not name.isidentifier():
        raise AgentSpecError(f"{flag}: the name {name!r} is not an identifier (letters, digits, underscores)")
    if name in taken:
        raise AgentSpecError(f"{flag}: the name {name!r} is already an arm's; choose another")
    where, colon, attr = spec.rpartition(":")
    if not colon or not where or not attr:
        raise AgentSpecError(f"{flag}: {spec!r} is not module:function or path/to/file.py:function")
    try:
        module = _module(where, flag)
    except AgentSpecError:
        raise
    except Exception as exc:  # the user's module failed to import: their error, in one line
        raise AgentSpecError(f"{flag}: cannot import {where!r}: {type(exc).__name__}: {exc}") from None
    function = getattr(module, attr, None)
    if function is None:
        raise AgentSpecError(f"{flag}: {where!r} has no attribute {attr!r}")
    if not callable(function):
        raise AgentSpecError(f"{flag}: {where}:{attr} is not callable")
    try:
        inspect.signature(function).bind(None)
    except TypeError:
        raise AgentSpecError(f"{flag}: {where}:{attr} must take one argument (the AgentTask)") from None
    except ValueError:  # a builtin without a signature: let the call decide
        pass
    return name, function


def _output(result: Any, task: TaskPrompt, name: str) -> ApproachOutput:
    trace: dict[str, Any] = {"agent": name, "answered": True}
    if isinstance(result, AgentReply):
        trace.update(result.steps, answered=result.ended_by_agent)
        result = result.answer
    if isinstance(result, str):
        return ApproachOutput(result, trace, {})
    if not isinstance(result, dict):
        raise AgentAnswerError(f"the agent returned {type(result).__name__}, not an answer (a dict of the answer's "
                               f"fields, or text)")
    try:  # the same fields and types a DSPy arm's reply must parse into
        answer = answer_model(task.schema, task.answer_form).model_validate(result).model_dump()
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(part) for part in problem["loc"])
        raise AgentAnswerError(f"the agent's answer does not fit the answer's schema: {where}: {problem['msg']}") from None
    narrative = answer.pop(task.narrative_field)
    return ApproachOutput(str(narrative), trace, answer)


def _sandbox(tools: list[Callable], config: ApproachConfig) -> Callable[[], Any]:
    """A fresh interpreter of the run's pool (config.interpreter_factory: tracked, its cells logged), with the tools."""
    def new() -> Any:
        interpreter = config.interpreter_factory()
        interpreter.tools.update({tool.__name__: tool for tool in tools})
        return interpreter
    return new


def agent_runner(name: str, function: Callable[[AgentTask], Any], limits: Callable[[ApproachConfig], tuple] | None,
                 sandbox: bool) -> Callable[..., ApproachOutput]:
    """The arm's run: a key for this run at the invocation's endpoint (ApproachConfig.endpoint), the function
    called with the AgentTask, the key closed when it returns."""
    def run(task: TaskPrompt, tools: list[Callable], config: ApproachConfig) -> ApproachOutput:
        control = current_run()
        lm = dspy.settings.lm
        token = config.endpoint.open_run(control, lm, lm.model)
        left = control.seconds_left() if control is not None else None
        agent_task = AgentTask(prompt=task.text, inputs=task.inputs, tools=list(tools),
                               tool_schemas=[tool_schema(t) for t in tools], answer_schema=task.answer_schema,
                               base_url=config.endpoint.base_url, api_key=token, model=lm.model,
                               deadline=None if left is None else time.time() + left,
                               step_limit=limits(config)[0] if limits else None,
                               sandbox=_sandbox(tools, config) if sandbox else None)
        served: list[int] = []
        try:
            output = _output(function(agent_task), task, name)
        finally:
            served.append(config.endpoint.close_run(token))
        output.trace["endpoint_requests"] = served[0]  # the endpoint's own count, beside the call log's
        return output
    return run


def endpoint_approach(name: str, label: str, function: Callable[[AgentTask], Any], *, trace: TraceKind,
                      notice: str, limits: Callable[[ApproachConfig], tuple] | None = None, sandbox: bool = False,
                      framework: str | None = None, prepare: Callable[[], None] | None = None,
                      failure_categories: FailureCategories = ()) -> Approach:
    """The registry entry of an arm whose model is the metered endpoint (your agent, smolagents' agents): `sandbox`,
    its model's code runs in the benchmark's sandbox (AgentTask.sandbox); `limits`, its step limits (else none)."""
    return Approach(name, label, agent_runner(name, function, limits, sandbox), runs_code=sandbox,
                    needs_sandbox=sandbox, one_call_per_check=False, trace=trace,
                    limits=limits or (lambda config: (None,)), by_default=False, uses_endpoint=True, notice=notice,
                    framework=framework, prepare=prepare,
                    failure_categories=(("bad_answer", (AgentAnswerError,)), *failure_categories))


def agent_approach(name: str, function: Callable[[AgentTask], Any], spec: str) -> Approach:
    """Your agent's registry entry: the same seam as the built-in arms; `spec` as the user gave it. A function with
    `sandbox = True` as an attribute runs its model's code in the benchmark's sandbox (AgentTask.sandbox), as
    smolagents' CodeAgent arm does, with its cells logged and diagnosed."""
    doc = (inspect.getdoc(function) or "").split("\n", 1)[0].rstrip(".")
    return endpoint_approach(name, name, function, trace=TRACE_KINDS["agent_calls"],
                             sandbox=getattr(function, "sandbox", False) is True,
                             notice=f"{name} is your agent ({spec}" + (f": {doc}" if doc else "") + "); its LM calls "
                                    "went through the benchmark's metered endpoint and its tool calls through the "
                                    "same ledger as every arm's.")
