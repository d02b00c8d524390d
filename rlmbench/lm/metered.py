"""A model request that is not DSPy's, metered exactly as GatedLM meters DSPy's: the same model settings, the same
retries (DSPy's rule of what is transient, made by the benchmark, never after the run's budget), the same --tpm
pacer, a request timeout no later than the budget, and the same call log (RunHooks), answered, failed or cut.

An upstream turns an OpenAI chat-completions request body into a response dict of the same shape: the oracle's
native tool-call role offline, LiteLLM for every other model (the library DSPy's own LiteLLM engine calls).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from dspy.utils.exceptions import ContextWindowExceededError, is_retryable_lm_error

from rlmbench.lm.gated import REPLY_LIMIT, RunHooks, TokenPacer, begin_attempt, end_attempt, retry_wait
from rlmbench.lm.oracle.chat import chat_reply
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW
from rlmbench.lm.windows import prompt_tokens, window_refusal
from rlmbench.tasks.task import TaskSchema

PASSED_THROUGH = ("tools", "tool_choice", "parallel_tool_calls", "response_format", "temperature", "top_p", "stop",
                  "seed", "max_tokens", "max_completion_tokens", "n")
"""What an agent's request may set for the upstream call; the model, its server and its key are the benchmark's."""
_TRANSIENT = ("RateLimitError", "InternalServerError", "ServiceUnavailableError", "APIConnectionError", "Timeout",
              "APITimeoutError")
"""LiteLLM's (OpenAI's) exception types for a failure a retry may cure, as DSPy's rule names its own."""


class Upstream(Protocol):
    def complete(self, body: dict, timeout: float | None) -> dict: ...


def _within(window: int | None, body: dict) -> None:
    """A window the user declared refuses a larger prompt before it is sent, as the provider would (the endpoint
    answers 400)."""
    if window is not None and (tokens := prompt_tokens(body.get("messages"))) > window:
        raise ContextWindowExceededError(message=window_refusal(window, tokens))


class OracleUpstream:
    """The offline oracle, playing a native tool-calling model for the task."""

    def __init__(self, schema: TaskSchema, window: int = ORACLE_CONTEXT_WINDOW) -> None:
        self.schema, self.window = schema, window

    def complete(self, body: dict, timeout: float | None) -> dict:
        return chat_reply(self.schema, body, self.window)


class LiteLLMUpstream:
    """Any other model, through LiteLLM, with the invocation's model settings (model, api_base, key, max_tokens)."""

    def __init__(self, model: str, settings: dict[str, Any], window: int | None = None) -> None:
        self.model, self.settings, self.window = model, settings, window

    def complete(self, body: dict, timeout: float | None) -> dict:
        from dspy.clients._litellm import get_litellm  # DSPy's own defaults: no telemetry, no debug banner on stderr

        litellm = get_litellm(feature="the metered endpoint")
        _within(self.window, body)
        given = {k: v for k, v in body.items() if k in PASSED_THROUGH and v is not None}
        response = litellm.completion(model=self.model, messages=[_text_as_string(m) for m in body.get("messages") or []],
                                      **{**self.settings, **given}, **({"timeout": timeout} if timeout else {}))
        return response.model_dump()


def _text_as_string(message: dict) -> dict:
    """A message whose content is a list of text parts alone, with that text as a string: what OpenAI's API takes
    either way, and all that some OpenAI-compatible servers take for a system or assistant message (llama.cpp's
    refuses smolagents' lists with a 500). The text is the same; a list holding an image is left as it is."""
    content = message.get("content")
    if isinstance(content, list) and content and all(isinstance(p, dict) and p.get("type") == "text" for p in content):
        return {**message, "content": "".join(str(p.get("text", "")) for p in content)}
    return message


def _retryable(exc: BaseException) -> bool:
    return is_retryable_lm_error(exc) or any(c.__name__ in _TRANSIENT for c in type(exc).__mro__)


def _reply(response: dict) -> tuple[str, str | None]:
    """The reply as the log keeps it (its text, its tool calls as JSON) and its finish reason."""
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    text = "\n".join(p for p in [str(message.get("content") or ""),
                                 json.dumps(message["tool_calls"]) if message.get("tool_calls") else ""] if p)
    return text[:REPLY_LIMIT], choice.get("finish_reason")


def metered_completion(upstream: Upstream, body: dict, control: RunHooks, pacer: TokenPacer | None = None,
                       retries: int = 0) -> dict:
    """One request of an agent's, as every arm's model calls are made: RunCancelled after the run's budget."""
    messages = body.get("messages") or []
    for attempt in range(retries + 1):
        metered = begin_attempt(control, pacer, messages, None)
        try:
            response = upstream.complete(body, control.seconds_left())
        except Exception as exc:
            end_attempt(metered, None)
            control.log_call(messages, None, error=f"{type(exc).__name__}: {str(exc)[:500]}")
            control.pause(retry_wait(exc, attempt, retries, _retryable(exc)))
            continue
        usage = response.get("usage") or {}
        end_attempt(metered, usage)
        reply, finish = _reply(response)
        control.log_call(messages, None, prompt_tokens=usage.get("prompt_tokens"),
                         completion_tokens=usage.get("completion_tokens"), finish_reason=finish, reply=reply)
        return response
    raise AssertionError("unreachable")  # the loop returns or raises
