"""The two smolagents arms, as agent functions of the --agent seam (agents.external.AgentTask -> AgentReply).

- `smol_code`: smolagents' CodeAgent, its code actions run in the benchmark's sandbox (executor.SandboxExecutor), the
  task's inputs given as variables (its `additional_args`), `max_steps` = --rlm-max-iters (one step is one code
  action, as one RLM iteration is one cell).
- `smol_tools`: smolagents' ToolCallingAgent, a turn's tool calls run at once in its own threads, `max_steps` = the
  step-wise arms' limit (--react-max-iters, else the calls a perfect agent makes + headroom, as ReActV2's turns).

Both ask the endpoint through smolagents' own OpenAI client with its retries off (the endpoint retries as it does
for every arm, so a retry is counted once), and end with `final_answer` of a dict of the answer's fields; at
`max_steps` smolagents asks the model once more for an answer (its own rule), and the run says it did not end on its
own. smolagents prints nothing (verbosity off); its steps come back in the run's trace.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

from smolagents import CodeAgent, OpenAIModel, ToolCallingAgent
from smolagents.memory import ActionStep
from smolagents.monitoring import LogLevel
from smolagents.utils import AgentMaxStepsError

from rlmbench.agents.external import AgentReply, AgentTask
from rlmbench.agents.smol.executor import SandboxExecutor, SandboxLost
from rlmbench.agents.smol.tools import smol_tool

FINAL_ANSWER = ("\n\nWhen you have the answer, call final_answer with one dict of the fields above, that fits this "
                "JSON schema: {schema}")
"""Added to the task's text: how the typed answer reaches the benchmark through smolagents' final_answer."""


def warm_up() -> None:
    """What the first run would otherwise pay inside its clock (0.7 s on 2 cores, measured): the OpenAI SDK that
    smolagents imports with its first client, and the SDK's own set-up on its first request, made here to a local
    port nobody listens on (refused at once, nothing sent); smolagents' prompt templates compiled once."""
    import openai

    with socket.socket() as closed:  # bound, never listening: a connection to it is refused
        closed.bind(("127.0.0.1", 0))
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{closed.getsockname()[1]}/v1", api_key="unused",
                               max_retries=0)
        with contextlib.suppress(openai.APIConnectionError):
            client.chat.completions.create(model="warm-up", messages=[{"role": "user", "content": "-"}])
    model = OpenAIModel(model_id="warm-up", api_key="unused")
    for agent in (CodeAgent(tools=[], model=model, executor=SandboxExecutor(lambda: None)),
                  ToolCallingAgent(tools=[], model=model)):
        agent.initialize_system_prompt()


def _model(task: AgentTask) -> OpenAIModel:
    return OpenAIModel(model_id=task.model, api_base=task.base_url, api_key=task.api_key,
                       client_kwargs={"max_retries": 0}, retry=False)


def _answer(output: Any) -> dict | str:
    """The typed answer: a dict, or a JSON object given as text; anything else is the narrative."""
    if isinstance(output, str):
        try:
            parsed = json.loads(output)
        except ValueError:
            return output
        return parsed if isinstance(parsed, dict) else output
    return output if isinstance(output, dict) else str(output)


def _task_text(task: AgentTask) -> str:
    return task.prompt + FINAL_ANSWER.format(schema=json.dumps(task.answer_schema))


def _steps(agent: Any) -> list[ActionStep]:
    """The agent's steps, without the one smolagents adds at max_steps to ask for an answer (its LM call is in the
    call log; the run is marked as not ended on its own)."""
    return [step for step in agent.memory.steps
            if isinstance(step, ActionStep) and not isinstance(step.error, AgentMaxStepsError)]


def _error(step: ActionStep) -> str | None:
    return None if step.error is None else f"{type(step.error).__name__}: {step.error}"


def run_code_agent(task: AgentTask) -> AgentReply:
    """smolagents' CodeAgent on the task, its code in the run's sandbox."""
    executor = SandboxExecutor(task.sandbox)
    agent = CodeAgent(tools=[smol_tool(t, as_text=False) for t in task.tools], model=_model(task),
                      executor=executor, max_steps=task.step_limit, verbosity_level=LogLevel.OFF)
    try:
        result = agent.run(_task_text(task), additional_args=dict(task.inputs), return_full_result=True)
    except SandboxLost as lost:
        raise lost.cause from None
    finally:
        executor.cleanup()
    opening = agent.code_block_tags[0]
    steps = [{"reasoning": (step.model_output or "").split(opening, 1)[0].strip(), "code": step.code_action or "",
              "output": step.observations or "", "error": _error(step)} for step in _steps(agent)]
    return AgentReply(_answer(result.output), {"steps": steps, "state": result.state},
                      ended_by_agent=result.state == "success")


def _turn_calls(step: ActionStep) -> list[dict]:
    """A step's calls with their results where smolagents shows one a line; a step whose call raised keeps no calls
    in smolagents' memory (the model never sees them again), so they are read from the model's reply."""
    asked = step.tool_calls or (step.model_output_message.tool_calls if step.model_output_message else None) or []
    calls = [(getattr(c, "function", c).name, getattr(c, "function", c).arguments) for c in asked]
    results = (step.observations or "").split("\n") if step.tool_calls else []
    return [{"name": name, "args": args if isinstance(args, dict) else {},
             "result": results[i] if len(results) == len(calls) else None, "error": None if step.tool_calls else
             _error(step)} for i, (name, args) in enumerate(calls)]


def run_tool_calling_agent(task: AgentTask) -> AgentReply:
    """smolagents' ToolCallingAgent on the task: each turn's calls at once, in its threads."""
    agent = ToolCallingAgent(tools=[smol_tool(t, as_text=True) for t in task.tools], model=_model(task),
                             max_steps=task.step_limit, verbosity_level=LogLevel.OFF)
    result = agent.run(_task_text(task), return_full_result=True)
    turns = []
    for step in _steps(agent):
        turns.append({"thought": step.model_output or "", "tool_calls": _turn_calls(step), "error": _error(step),
                      "observations": step.observations or ""})
    return AgentReply(_answer(result.output), {"turns": turns, "state": result.state},
                      ended_by_agent=result.state == "success")
