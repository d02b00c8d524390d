"""The oracle as a native tool-calling model: it answers an OpenAI chat-completions request that carries `tools` as a
perfect agent built on native tool calls would, so any such agent (your own, the OpenAI SDK's loop, a framework's)
runs offline and shows its architecture's own cost.

- First turn: every required check as parallel `tool_calls` (one a turn when `parallel_tool_calls` is false).
- Later turns: the checks whose calls failed (up to RETRY_LIMIT calls each) and the follow-ups the findings call for.
- Then the final answer: the typed answer's JSON as the message's text (the JSON `response_format` asks for).

It reads the task's inputs from the task's text in the first user message (tasks.prompt), each answer from the tool
message that carries it, beside the call that asked for it. An agent tells the model a call failed the way the
example does: the error's type in the tool message (`ToolUnavailableError: ...`).
"""

from __future__ import annotations

import json
import time

from dspy.utils.exceptions import ContextWindowExceededError

from rlmbench.lm.adapter_text import message_text
from rlmbench.lm.oracle.answers import (
    RETRY_LIMIT,
    CallAnswer,
    Statement,
    answer_in,
    call_tries,
    follow_ups_due,
    statements,
)
from rlmbench.lm.oracle.request import OracleError
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW, ORACLE_MODEL_NAME
from rlmbench.lm.tokens import count_tokens
from rlmbench.lm.windows import window_refusal
from rlmbench.tasks.prompt import answer_fields, inputs_in
from rlmbench.tasks.task import TaskSchema, check_key, required_checks
from rlmbench.tasks.tools import REACHED_THE_TOOL

EXTRA_TURNS = 3
"""Turns of calls after the first (a parallel agent's): retries of what failed, and the follow-ups."""


def _calls(messages: list[dict]) -> list[CallAnswer]:
    """Every tool call the conversation shows with its result, paired by call id."""
    asked: dict[str, tuple[str, dict]] = {}
    out: list[CallAnswer] = []
    for at, message in enumerate(messages):
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            try:
                args = json.loads(function.get("arguments") or "{}")
            except ValueError:
                args = {}
            asked[call.get("id", "")] = (str(function.get("name", "")), args if isinstance(args, dict) else {})
        if message.get("role") == "tool" and message.get("tool_call_id") in asked:
            name, args = asked[message["tool_call_id"]]
            content = message_text(message.get("content"))
            failed = content.startswith("Error") or any(error in content for error in REACHED_THE_TOOL)
            out.append((at, name, args, content, failed))
    return out


def _tool_calls(calls: list[dict], turn: int) -> list[dict]:
    return [{"id": f"call_{turn}_{i}", "type": "function",
             "function": {"name": c["tool"], "arguments": json.dumps(c["args"])}} for i, c in enumerate(calls)]


def _due(schema: TaskSchema, inputs: dict[str, list[str]], said: list[Statement],
         tries: dict[tuple[str, tuple], list[bool]]) -> list[dict]:
    """The calls still to make: checks never called, or failed fewer than RETRY_LIMIT times, and the follow-ups."""
    settled = {(s.tool.name, check_key(s.tool, s.args)) for s in said}
    settled |= {check for check, failed in tries.items() if not all(failed) or len(failed) >= RETRY_LIMIT}
    due = [{"tool": c.tool, "args": c.args} for c in required_checks(schema, inputs) if (c.tool, c.key) not in settled]
    return due + [call for call in follow_ups_due(schema, said)
                  if (call["tool"], check_key(schema.tool(call["tool"]), call["args"])) not in settled]


def _answer(schema: TaskSchema, body: dict, text: str, said: list[Statement],
            tries: dict[tuple[str, tuple], list[bool]]) -> str:
    """The typed answer's JSON: the fields the request's JSON schema names, else every field of the task's answer."""
    answer = answer_in(schema, text, said, tries)
    wanted = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema", {}).get("properties")
    names = list(wanted) if wanted else list(answer_fields(schema))
    return json.dumps({name: answer[name] for name in names if name in answer})


def native_reply(schema: TaskSchema, body: dict, window: int = ORACLE_CONTEXT_WINDOW) -> dict:
    """The chat completion (OpenAI's shape) a perfect native tool-calling agent's model returns for this request; a
    prompt over `window` is refused, from the same count its usage reports, as a provider refuses it."""
    messages = body.get("messages") or []
    prompt_tokens = count_tokens(json.dumps(messages) + json.dumps(body.get("tools") or []))
    if prompt_tokens > window:
        raise ContextWindowExceededError(message=window_refusal(window, prompt_tokens))
    first_user = next((message_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    inputs = inputs_in(schema, first_user)
    if inputs is None:
        raise OracleError("oracle found no task inputs in the request's first user message (send the task's prompt)")
    offered = {(t.get("function") or {}).get("name") for t in body.get("tools") or []}
    calls = _calls(messages)  # read once each: the conversation grows with every turn
    text = "\n".join(str(c[3]) for c in calls if not c[4])
    said, tries = statements(schema, text, calls), call_tries(schema, calls)
    turns = sum(1 for m in messages if m.get("tool_calls"))
    one_at_a_time = body.get("parallel_tool_calls") is False
    due = _due(schema, inputs, said, tries) if offered else []
    if due and (one_at_a_time or turns <= EXTRA_TURNS):
        missing = {c["tool"] for c in due} - offered
        if missing:
            raise OracleError(f"oracle needs tool {sorted(missing)[0]!r} but the request does not offer it")
        chosen = due[:1] if one_at_a_time else due
        message = {"role": "assistant", "content": None, "tool_calls": _tool_calls(chosen, turns)}
        finish = "tool_calls"
    else:
        message, finish = {"role": "assistant", "content": _answer(schema, body, text, said, tries)}, "stop"
    completion_tokens = count_tokens(json.dumps(message))
    return {"id": f"chatcmpl-oracle-{len(messages)}", "object": "chat.completion", "created": int(time.time()),
            "model": ORACLE_MODEL_NAME, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
