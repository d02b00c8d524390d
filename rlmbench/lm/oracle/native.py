"""The oracle as a native tool-calling model: it answers an OpenAI chat-completions request that carries `tools` as a
perfect agent built on native tool calls would, so any such agent (your own, the OpenAI SDK's loop, a framework's)
runs offline and shows its architecture's own cost.

- First turn: every required check as parallel `tool_calls` (one a turn when `parallel_tool_calls` is false).
- Later turns: the checks whose calls failed (up to RETRY_LIMIT calls each) and the follow-ups the findings call for.
- Then the final answer: a call of the `final_answer` tool where the request offers one (smolagents'
  ToolCallingAgent), else the typed answer's JSON as the message's text (the JSON `response_format` asks for).

It reads the task's inputs from the task's text in the first user message (tasks.prompt), each answer from the tool
message that carries it, beside the call that asked for it. An agent tells the model a call failed the way the
example does: the error's type in the tool message (`ToolUnavailableError: ...`). A framework that writes the calls
and their results into the conversation as text (smolagents: "Calling tools:" then "Observation:") is read as well.
"""

from __future__ import annotations

import ast
import json
import re

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
from rlmbench.tasks.prompt import answer_fields, inputs_in
from rlmbench.tasks.task import TaskSchema, check_key, required_checks
from rlmbench.tasks.tools import REACHED_THE_TOOL

FINAL_ANSWER_TOOL = "final_answer"
"""A tool the agent ends with, given the answer (smolagents' convention): offered, the oracle answers through it."""
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


CALLS_AS_TEXT = "Calling tools:\n"
"""How smolagents writes a turn's calls into the conversation (a Python list of the calls), before the user message
"Observation:\n" that holds their results, one after another in the order of their ids."""
_OBSERVATION = "Observation:\n"
_SEGMENT = re.compile(r"^(?:Calling tools:\n|Observation:\n|Call id: |Error:\n)", re.MULTILINE)
"""Where each part of smolagents' text starts; consecutive messages of one role are merged with a line break."""
_CALL_ERROR = re.compile(r"Error executing tool '(\w+)' with arguments (\{.*?\}): (\w+): (.*)")
"""smolagents' error for a step whose tool call raised: neither the step's calls nor its other results are shown."""


def _literal(text: str) -> object:
    """A Python literal as smolagents writes it (`str()` of a list or dict); None where it is not one."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def _segments(text: str) -> list[str]:
    starts = [m.start() for m in _SEGMENT.finditer(text)]
    return [text[a:b].rstrip("\n") for a, b in zip(starts, [*starts[1:], len(text)])]


def _listed_calls(segment: str) -> list[tuple[str, dict]]:
    """(name, args) of the calls a "Calling tools:" segment lists, in the order of their ids."""
    listed = _literal(segment[len(CALLS_AS_TEXT):].split("\n", 1)[0])
    if not isinstance(listed, list):
        return []
    calls = sorted((c for c in listed if isinstance(c, dict)), key=lambda c: str(c.get("id", "")))
    return [(str((c.get("function") or {}).get("name", "")), (c.get("function") or {}).get("arguments"))
            for c in calls]


def _text_calls(messages: list[dict]) -> list[CallAnswer]:
    """The calls a conversation writes as text, with their results: each "Observation:" paired line by line with the
    calls before it when its lines are as many (one-line answers), and each failed call read from its error."""
    out: list[CallAnswer] = []
    asked: list[tuple[str, dict]] = []
    for at, message in enumerate(messages):
        for segment in _segments(message_text(message.get("content"))):
            if segment.startswith(CALLS_AS_TEXT):
                asked = [(name, args if isinstance(args, dict) else {}) for name, args in _listed_calls(segment)]
            elif segment.startswith(_OBSERVATION):
                lines = segment[len(_OBSERVATION):].split("\n")
                if len(lines) == len(asked):
                    out += [(at, name, args, line, False) for (name, args), line in zip(asked, lines)]
                else:  # answers of several lines: read as one text, where the statements name their checks
                    out.append((at, "", {}, segment[len(_OBSERVATION):], False))
                asked = []
            elif (error := _CALL_ERROR.search(segment)) is not None:
                args = _literal(error.group(2))
                out.append((at, error.group(1), args if isinstance(args, dict) else {}, error.group(4), True))
                asked = []
    return out


def _tool_calls(calls: list[dict], turn: int) -> list[dict]:
    """Ids that sort in the order of the calls (smolagents shows results in the order of their ids)."""
    return [{"id": f"call_{turn}_{i:04d}", "type": "function",
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
            tries: dict[tuple[str, tuple], list[bool]]) -> dict:
    """The typed answer: the fields the request's JSON schema names, else every field of the task's answer."""
    answer = answer_in(schema, text, said, tries)
    wanted = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema", {}).get("properties")
    names = list(wanted) if wanted else list(answer_fields(schema))
    return {name: answer[name] for name in names if name in answer}


def native_message(schema: TaskSchema, body: dict, first_user: str) -> tuple[dict, str]:
    """The assistant message and finish reason a perfect native tool-calling agent's model returns for this request."""
    messages = body.get("messages") or []
    inputs = inputs_in(schema, first_user)
    if inputs is None:
        raise OracleError("oracle found no task inputs in the request's first user message (send the task's prompt)")
    offered = {(t.get("function") or {}).get("name") for t in body.get("tools") or []}
    calls = _calls(messages) + _text_calls(messages)  # read once each: the conversation grows with every turn
    text = "\n".join(str(c[3]) for c in calls if not c[4])
    said, tries = statements(schema, text, calls), call_tries(schema, calls)
    turns = sum(1 for m in messages if m.get("tool_calls") or CALLS_AS_TEXT in message_text(m.get("content")))
    one_at_a_time = body.get("parallel_tool_calls") is False
    due = _due(schema, inputs, said, tries) if offered else []
    if due and (one_at_a_time or turns <= EXTRA_TURNS):
        missing = {c["tool"] for c in due} - offered
        if missing:
            raise OracleError(f"oracle needs tool {sorted(missing)[0]!r} but the request does not offer it")
        chosen = due[:1] if one_at_a_time else due
        return {"role": "assistant", "content": None, "tool_calls": _tool_calls(chosen, turns)}, "tool_calls"
    if FINAL_ANSWER_TOOL in offered:
        answer = _answer(schema, body, text, said, tries)
        return {"role": "assistant", "content": None,
                "tool_calls": _tool_calls([{"tool": FINAL_ANSWER_TOOL, "args": {"answer": answer}}], turns)}, "tool_calls"
    return {"role": "assistant", "content": json.dumps(_answer(schema, body, text, said, tries))}, "stop"
