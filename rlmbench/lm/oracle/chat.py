"""The oracle as an OpenAI-compatible chat model, for agents that are not DSPy's (the metered endpoint's upstream,
the tests' server): each request answered by the role it asks for, with real token counts and a context window.

- A request whose system prompt asks for code in tags, ending with `final_answer` (smolagents' CodeAgent), and
  offers no tools: a code action (oracle.code_action).
- Any other request: a native tool-calling agent's model (oracle.native), with tools or for the final answer.
"""

from __future__ import annotations

import json
import time

from dspy.utils.exceptions import ContextWindowExceededError

from rlmbench.lm.adapter_text import message_text
from rlmbench.lm.oracle.code_action import code_action, code_tags
from rlmbench.lm.oracle.native import native_message
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW, ORACLE_MODEL_NAME
from rlmbench.lm.tokens import count_tokens
from rlmbench.lm.windows import window_refusal
from rlmbench.tasks.task import TaskSchema


def _stopped(text: str, stop: list[str] | str | None) -> str:
    """The text up to the first stop sequence, as a provider cuts it (the sequence itself left out)."""
    for sequence in [stop] if isinstance(stop, str) else stop or []:
        if sequence and sequence in text:
            text = text[:text.index(sequence)]
    return text


def chat_reply(schema: TaskSchema, body: dict, window: int = ORACLE_CONTEXT_WINDOW) -> dict:
    """The chat completion (OpenAI's shape) the oracle returns for this request; a prompt over `window` is refused,
    from the same count its usage reports, as a provider refuses it."""
    messages = body.get("messages") or []
    prompt_tokens = count_tokens(json.dumps(messages) + json.dumps(body.get("tools") or []))
    if prompt_tokens > window:
        raise ContextWindowExceededError(message=window_refusal(window, prompt_tokens))
    system = next((message_text(m.get("content")) for m in messages if m.get("role") == "system"), "")
    first_user = next((message_text(m.get("content")) for m in messages if m.get("role") == "user"), "")
    tags = None if body.get("tools") else code_tags(system)
    if tags is not None:
        message, finish = {"role": "assistant", "content": code_action(schema, messages, first_user, tags)}, "stop"
    else:
        message, finish = native_message(schema, body, first_user)
    if message.get("content"):
        message["content"] = _stopped(message["content"], body.get("stop"))
    completion_tokens = count_tokens(json.dumps(message))
    return {"id": f"chatcmpl-oracle-{len(messages)}", "object": "chat.completion", "created": int(time.time()),
            "model": ORACLE_MODEL_NAME, "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens}}
