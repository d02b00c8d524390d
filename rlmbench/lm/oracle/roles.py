"""The oracle's roles: one for each way DSPy's modules ask a model for something, each choosing itself from the
request (the output fields its system prompt asks for, the tools it offers), none knowing which arm asked.

- ReAct step (outputs `next_tool_name`): the next required check the trajectory does not show yet, one per step
  (a check whose call failed is made again, up to RETRY_LIMIT calls), then the follow-ups its findings call for,
  then `finish`; in the hybrid executor, the plan's steps first.
- ReActV2 turn (outputs `tool_calls`): every required check in one turn, then in later turns the checks left without
  an answer and the follow-ups, then `submit` with the answer.
- RLM action (outputs `code`): the code of oracle.code in the first step, SUBMIT of its variables in the next.
- GEPA reflection (outputs `new_instruction`): the current instruction plus one sentence asking for every check.
- Anything else (ReAct's extract, the RLM's fallback): the typed answer and a report, read from the conversation.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Callable

from rlmbench.lm.adapter_text import TOOL_ERROR, is_json_request
from rlmbench.lm.oracle.answers import (
    RETRY_LIMIT,
    answer_in,
    call_answers,
    call_tries,
    follow_ups_due,
    statements,
)
from rlmbench.lm.oracle.code import batch_code, check_code, plan_code
from rlmbench.lm.oracle.request import OracleError, formatted, load_list, output_fields, parse_sections, request_inputs
from rlmbench.tasks.task import TaskSchema, check_key, check_scope, required_checks
from rlmbench.tasks.tools import REACHED_THE_TOOL

_MORE_CALLS = "Calls still to make (failed checks again, follow-ups of findings)"


_EXTRA_TURNS = 3
"""Turns ReActV2's oracle takes after its first: follow-ups, then retries of whatever failed in the turn before."""


def planned_checks(schema: TaskSchema, inputs: dict[str, list[str]]) -> list[dict]:
    """Every required check, in the order the oracle performs them."""
    return [{"tool": c.tool, "args": c.args} for c in required_checks(schema, inputs)]


def _done_key(schema: TaskSchema, name: str, args: dict) -> tuple:
    tool = schema.tool(name)
    return (name, check_key(tool, args)) if tool else (name, tuple(sorted(map(str, args.values()))))


def _reached_and_failed(observation: str) -> bool:
    """Whether a ReAct observation is the tool's own failure (transient, or the user's tool raising): worth a retry."""
    return observation.startswith(TOOL_ERROR) and any(name in observation for name in REACHED_THE_TOOL)


def _react_step(schema: TaskSchema, sections: dict[str, str], system: str, user: str) -> dict[str, Any]:
    todo = load_list(sections["plan"], "plan") if "plan" in sections else planned_checks(
        schema, request_inputs(schema, sections))
    if schema.follow_up_tools:  # after the checks, the follow-ups their findings call for
        todo = todo + follow_ups_due(schema, statements(schema, user))
    done, failures = set(), {}
    i = 0
    while f"tool_name_{i}" in sections:
        try:
            args = json.loads(sections.get(f"tool_args_{i}", "{}"))
        except json.JSONDecodeError:
            args = {}
        key = _done_key(schema, sections[f"tool_name_{i}"], args if isinstance(args, dict) else {})
        failed = _reached_and_failed(sections.get(f"observation_{i}", ""))
        if failed:  # a call the tool failed is made again, a few times
            failures[key] = failures.get(key, 0) + 1
        if not failed or failures[key] >= RETRY_LIMIT:
            done.add(key)
        i += 1
    for step in todo:
        if not isinstance(step, dict) or "tool" not in step:
            continue
        if _done_key(schema, step["tool"], step.get("args", {})) not in done:
            if f"({step['tool']}," not in system and f") {step['tool']}," not in system:
                raise OracleError(f"oracle needs tool {step['tool']!r} but the prompt does not offer it")
            return {
                "next_thought": f"Step {i + 1}: run {step['tool']} for {', '.join(map(str, step['args'].values()))}.",
                "next_tool_name": step["tool"],
                "next_tool_args": step["args"],
            }
    return {"next_thought": f"All {len(todo)} checks are done; finishing.", "next_tool_name": "finish",
            "next_tool_args": {}}


_BATCH_PRIMITIVE = re.compile(r"`(\w+)\(tool_name: \w+, list_of_kwargs: \w+\)`")
"""How DSPy's RLM lists a batch primitive among its tools (`call_many(tool_name, list_of_kwargs)`): the oracle reads
it from the prompt, as a model reads the tool docs, and never from the arm that offers it."""


def _rlm_step(schema: TaskSchema, sections: dict[str, str], system: str) -> dict[str, str]:
    submit = re.search(r"`SUBMIT\(([^)]*)\)`", system)
    names = [n.strip() for n in submit.group(1).split(",")] if submit else []
    if not names:
        raise OracleError("oracle found no SUBMIT(...) signature in the RLM prompt")
    history = sections.get("repl_history", "")
    steps = len(re.findall(r"^=== Step \d+ ===$", history, re.MULTILINE))
    if steps == 0:
        batch = _BATCH_PRIMITIVE.search(system)  # a tool that runs one tool over a list of calls: use it
        build = (plan_code(schema) if names == ["plan"]
                 else batch_code(schema, batch.group(1)) if batch else check_code(schema))
        return {"reasoning": "Loop over every required check with the tools, and collect the findings.",
                "code": f"```python\n{build}\n```"}
    return {"reasoning": "The loop ran and collected its findings; submit them.",
            "code": f"```python\nSUBMIT({', '.join(f'{n}={n}' for n in names)})\n```"}


def _final_answer(schema: TaskSchema, fields: list[str], conversation: str) -> dict[str, Any]:
    found = answer_in(schema, conversation)
    answer: dict[str, Any] = {}
    for name in fields:
        if name == "reasoning":
            count = sum(len(found[t.answer_field]) for t in schema.finding_tools)
            answer[name] = f"The tool results show {count} findings."
        elif name == "plan":
            answer[name] = []
        else:
            answer[name] = found.get(name, found[schema.narrative_field])
    return answer


def _react_v2_turn(schema: TaskSchema, system: str, conversation: str) -> dict[str, Any]:
    """All checks in the first turn, then the checks left unanswered and the follow-ups, then submit: the fewest
    turns ReActV2 allows."""
    for tool in schema.required_tools:
        if tool.name not in system and tool.name not in conversation:
            raise OracleError(f"oracle needs tool {tool.name!r} but the prompt does not offer it")
    checks = required_checks(schema, request_inputs(schema, parse_sections(conversation)))
    calls = call_answers(conversation)  # read once each: the conversation grows with every turn
    tries = call_tries(schema, calls)
    if not tries:
        return {"next_thought": f"Run all {len(checks)} checks at once.",
                "tool_calls": {"tool_calls": [{"name": c.tool, "args": c.args} for c in checks]}}
    said = statements(schema, conversation, calls)
    settled = {(st.tool.name, check_key(st.tool, st.args)) for st in said}  # answered, or given up on:
    settled |= {check for check, failed in tries.items() if not all(failed) or len(failed) >= RETRY_LIMIT}
    again = [{"tool": c.tool, "args": c.args} for c in checks if (c.tool, c.key) not in settled]
    again += [call for call in follow_ups_due(schema, said)
              if (call["tool"], check_key(schema.tool(call["tool"]), call["args"])) not in settled]
    if again and conversation.count(_MORE_CALLS) < _EXTRA_TURNS:
        return {"next_thought": f"{_MORE_CALLS}: {len(again)}.",
                "tool_calls": {"tool_calls": [{"name": c["tool"], "args": c["args"]} for c in again]}}
    wanted = re.search(r"call `submit` with (.*)", system)
    names = re.findall(r"`(\w+)`", wanted.group(1)) if wanted else []
    answer = {k: v for k, v in answer_in(schema, conversation, said, tries).items() if k in names}
    return {"next_thought": "Every check has a result; submit the answer.",
            "tool_calls": {"tool_calls": [{"name": "submit", "args": answer}]}}


def coverage_guidance(schema: TaskSchema) -> str:
    """The sentence GEPA's oracle reflection adds: make every required check, in code."""
    return ("Call " + ", ".join(f"{t.name} on {'' if t.kind == 'attribute' else 'all '}{check_scope(t)}"
                                for t in schema.required_tools)
            + ", looping over them in code, before you write the answer; report each finding with its severity.")


def _propose_instruction(schema: TaskSchema, sections: dict[str, str]) -> dict[str, str]:
    """GEPA reflection: keep the current instruction and add the coverage guidance once."""
    current = sections.get("current_instruction", "").strip()
    guidance = coverage_guidance(schema)
    if guidance in current:
        return {"new_instruction": current}
    return {"new_instruction": f"{current}\n\n{guidance}".strip()}


@dataclass(frozen=True)
class Request:
    """One request, as the roles read it."""

    system: str
    user: str
    """The last user message."""
    conversation: str
    """Every message after the system prompt (earlier turns of a multi-turn history included)."""

    @property
    def fields(self) -> list[str]:
        return output_fields(self.system)

    @property
    def sections(self) -> dict[str, str]:
        return parse_sections(self.user)


@dataclass(frozen=True)
class Role:
    """One way of being asked: whether a request is this role's, and the reply's fields."""

    name: str
    asks: Callable[[list[str]], bool]
    """From the output fields the request asks for."""
    answer: Callable[[TaskSchema, Request], dict[str, Any]]


ROLES: tuple[Role, ...] = (
    Role("GEPA reflection", lambda fields: "new_instruction" in fields,
         lambda schema, r: _propose_instruction(schema, r.sections)),
    Role("ReAct step", lambda fields: "next_tool_name" in fields,
         lambda schema, r: _react_step(schema, r.sections, r.system, r.user)),
    Role("ReActV2 turn", lambda fields: "tool_calls" in fields,
         lambda schema, r: _react_v2_turn(schema, r.system, r.conversation)),
    Role("RLM action", lambda fields: "code" in fields, lambda schema, r: _rlm_step(schema, r.sections, r.system)),
    Role("final answer", lambda fields: bool(fields), lambda schema, r: _final_answer(schema, r.fields, r.conversation)),
)
"""Tried in order; the first that asks for the request answers it."""


def respond(schema: TaskSchema, system: str, user: str, conversation: str | None = None) -> str:
    """The oracle's whole policy: the reply text for one request on a task with this schema.

    `user` is the last user message; `conversation` is every message after the system prompt
    (earlier turns of a multi-turn history included), and defaults to `user`.
    """
    request = Request(system, user, user if conversation is None else conversation)
    fields = request.fields
    role = next((role for role in ROLES if role.asks(fields)), None)
    if role is None:
        raise OracleError("oracle found no output fields in the system prompt (is this a DSPy adapter request?)")
    return formatted(role.answer(schema, request), is_json_request(user))
