"""A native tool-calling agent over the OpenAI SDK: the step-wise baseline with parallel calls.

It sends the task's tools as OpenAI tool definitions, runs every call of a turn at once (one thread each), sends the
results back, and repeats until the model answers; the answer is the JSON the task's answer schema describes. It is
the architecture a skeptic asks for beside ReActV2: one LM call per turn, several tool calls per turn, no code.

    rlmbench run --model oracle --approaches rlm --agent native=examples/agents/native_tools.py:run --runs 1

A tool call that fails is sent back to the model as `Error: <Type>: <message>`, so the model can retry it.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

from openai import OpenAI

MAX_TURNS = 20


def _call(tools: dict, call) -> str:
    """One tool call's result as the model reads it: the answer (a dict as JSON), or the error."""
    try:
        result = tools[call.function.name](**json.loads(call.function.arguments or "{}"))
    except Exception as exc:  # the model decides whether to retry
        return f"Error: {type(exc).__name__}: {exc}"
    return result if isinstance(result, str) else json.dumps(result)


def _answer(text: str) -> dict | str:
    """The model's JSON answer (many models fence it in ```json), else its text as the narrative."""
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        return json.loads(body)
    except ValueError:
        return text


def run(task) -> dict | str:
    """Native tool calls, each turn's calls run concurrently."""
    # The benchmark retries failed requests itself and counts every one; the SDK's own retries would hide them.
    client = OpenAI(base_url=task.base_url, api_key=task.api_key, max_retries=0)
    tools = {tool.__name__: tool for tool in task.tools}
    messages = [{"role": "user", "content": task.prompt + "\n\nAnswer with a JSON object of those fields."}]
    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in range(MAX_TURNS):
            reply = client.chat.completions.create(model=task.model, messages=messages, tools=task.tool_schemas,
                                                   parallel_tool_calls=True).choices[0].message
            if not reply.tool_calls:
                return _answer(reply.content or "")
            messages.append(reply.model_dump(exclude_none=True))
            results = pool.map(lambda call: _call(tools, call), reply.tool_calls)
            messages += [{"role": "tool", "tool_call_id": call.id, "content": result}
                         for call, result in zip(reply.tool_calls, results)]
    return "No answer within the turn limit."
