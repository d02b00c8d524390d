"""The LM every run talks to: a `dspy.LM` that honours the current run's time budget and a shared
tokens-per-minute pace, and logs every call into the run.

A run that exceeds `--timeout` is recorded as `timeout` by the runner and abandoned. Its thread
cannot be killed, so its next LM call raises `RunCancelled` instead of spending more of the user's
budget. For a server reached through LiteLLM (`--api-base`) each request's timeout is what is left of
the run's budget, so the request in flight is closed when the budget runs out. Retries are made here,
with DSPy's own rule of what is transient and how long to wait (`is_retryable_lm_error`, a
`retry_after` hint or 2^attempt s), because DSPy's retry loop cannot see the budget: it would send
an abandoned run's request again. With `--tpm`, `GatedLM` waits for the shared `TokenPacer` first, so a long ReAct run stays
under a provider's tokens-per-minute limit instead of failing on 429s. Every call, answered or
failed, is logged into the current run (`RunHooks`, implemented by run.control.RunControl), so even
a failed or timed-out run can be diagnosed from the traces file alone.
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Protocol

import dspy
from dspy.clients._http import finite_seconds
from dspy.clients.legacy_outputs import value as response_value
from dspy.utils.exceptions import ContextWindowExceededError, is_retryable_lm_error

from rlmbench.lm.tokens import count_tokens
from rlmbench.lm.windows import prompt_tokens, window_refusal

REPLY_LIMIT = 20_000
"""Characters of a reply kept in the run's log."""


class RunCancelled(Exception):
    """The run ran out of time; raised at its next LM call so an abandoned run stops calling the model."""


class RunHooks(Protocol):
    """What the LM needs of the run it serves (run.control.RunControl)."""

    pacing_wait_s: float

    def check(self) -> None: ...
    def seconds_left(self) -> float | None: ...
    def pause(self, seconds: float) -> None: ...
    def begin_call(self, messages: list[dict] | None, prompt: str | None) -> None: ...
    def log_call(self, messages: list[dict] | None, prompt: str | None, **fields: Any) -> None: ...
    def add_model_time(self, seconds: float) -> None: ...


_current_run: contextvars.ContextVar[RunHooks | None] = contextvars.ContextVar("rlmbench_run", default=None)


def bind_run(control: RunHooks) -> contextvars.Token:
    """Make `control` the current run's control in this thread (and in contexts copied from it)."""
    return _current_run.set(control)


def current_run() -> RunHooks | None:
    return _current_run.get()


def retry_delay(exc: BaseException, attempt: int) -> float:
    """DSPy 3.4.1's wait before retry `attempt` (clients/execution._delay): the provider's hint, else 2^attempt s."""
    hint = finite_seconds(getattr(exc, "retry_after", None))
    return hint if hint is not None else min(2 ** min(attempt, 6), 60)


def _reply_text(outputs: Any) -> str:
    """The reply as text: DSPy's outputs are strings, or dicts with text and native tool calls."""
    parts = []
    for output in outputs if isinstance(outputs, list) else [outputs]:
        if isinstance(output, dict):
            parts.append(str(output.get("text") or ""))
            if output.get("tool_calls"):
                parts.append(json.dumps(output["tool_calls"], default=str))
        else:
            parts.append("" if output is None else str(output))
    return "\n".join(p for p in parts if p)[:REPLY_LIMIT]


def _finish_reason(response: Any) -> str | None:
    reason = getattr(response, "finish_reason", None)
    if reason is None:
        choices = response_value(response, "choices", None) or []
        reason = response_value(choices[0], "finish_reason", None) if choices else None
    return None if reason is None else str(getattr(reason, "value", reason))


class TokenPacer:
    """A sliding 60-second window of tokens spent, shared by every run of an invocation.

    Before a call it waits until the window has room for the call's estimate: its prompt
    (counted with o200k_base) plus the mean completion so far. After the call the booking is
    corrected to the tokens the provider reported. An estimate larger than the whole budget
    waits for an empty window and then goes ahead, so one large call is not blocked forever.
    """

    def __init__(self, tokens_per_minute: int, window_s: float = 60.0) -> None:
        self.tokens_per_minute = tokens_per_minute
        self.window_s = window_s
        self._bookings: deque[list] = deque()  # [booked_at, tokens]
        self._completions: list[int] = []
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict) -> "TokenPacer":
        return self  # copies of the LM share one provider budget

    def estimate(self, messages: list[dict] | None, prompt: str | None) -> int:
        text = prompt or "".join(str(m.get("content") or "") for m in messages or [])
        with self._lock:
            completion = sum(self._completions) // len(self._completions) if self._completions else 0
        return count_tokens(text) + completion

    def book(self, tokens: int) -> tuple[list, float]:
        """Block until `tokens` fit in the window, then book them; return the booking and the seconds waited."""
        started = time.monotonic()
        while True:
            with self._lock:
                now = time.monotonic()
                while self._bookings and now - self._bookings[0][0] >= self.window_s:
                    self._bookings.popleft()
                used = sum(tokens for _, tokens in self._bookings)
                if used + tokens <= self.tokens_per_minute or not self._bookings:
                    booking = [now, tokens]  # booked before the call, so concurrent runs do not all pass at once
                    self._bookings.append(booking)
                    return booking, now - started
                wait = self.window_s - (now - self._bookings[0][0])
            time.sleep(min(max(wait, 0.01), 1.0))

    def settle(self, booking: list, tokens: int | None, completion_tokens: int | None) -> None:
        """Correct a booking to what the provider reported (kept as estimated when it reported nothing)."""
        with self._lock:
            if tokens:
                booking[1] = tokens
            if completion_tokens is not None:
                self._completions.append(completion_tokens)


@dataclass
class Attempt:
    """One request's metering, the same for DSPy's calls (GatedLM) and an agent's (lm.metered): the run's budget
    checked, the --tpm pace booked, the call begun in the run's log and timed from after any pacing wait."""

    control: RunHooks | None
    pacer: TokenPacer | None
    booking: list | None
    started: float


def begin_attempt(control: RunHooks | None, pacer: TokenPacer | None, messages: list[dict] | None,
                  prompt: str | None) -> Attempt:
    """RunCancelled once the run's budget ran out; else the pace booked and the call begun in the log."""
    if control is not None:
        control.check()
    booking = None
    if pacer is not None:
        booking, waited = pacer.book(pacer.estimate(messages, prompt))
        if control is not None:
            control.pacing_wait_s += waited
            control.check()
    if control is not None:
        control.begin_call(messages, prompt)
    return Attempt(control, pacer, booking, time.perf_counter())  # model time is the call itself


def end_attempt(attempt: Attempt, usage: dict | None) -> None:
    """The call's model time counted, its booking corrected to the usage the provider reported (None: kept as
    estimated, for a call that failed or was cut)."""
    if attempt.control is not None:
        attempt.control.add_model_time(time.perf_counter() - attempt.started)
    if attempt.booking is None:
        return
    if usage is None:
        attempt.pacer.settle(attempt.booking, None, None)
        return
    prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    attempt.pacer.settle(attempt.booking, prompt + completion, completion)


def retry_wait(exc: BaseException, attempt: int, retries: int, retryable: bool) -> float:
    """The wait before the next attempt, or `exc` raised when there is none (cancelled, out of retries, or not a
    failure a retry may cure)."""
    if isinstance(exc, RunCancelled) or attempt >= retries or not retryable:
        raise exc
    return retry_delay(exc, attempt)


_reported: contextvars.ContextVar[dict | None] = contextvars.ContextVar("rlmbench_reported_usage", default=None)
"""The usage the provider reported for the call under way in this context (set by GatedLM.update_history): what the
pacer books, read from the same answer the call log records."""


class GatedLM(dspy.LM):
    """A `dspy.LM` that honours the current run's cancellation and budget, and the shared token pace.

    `retries` are made here, not by DSPy (its `num_retries` is 0), so no retry goes out after the
    run's budget ran out. `closes_at_budget`: each request's timeout is the run's time left (a
    LiteLLM-served model; DSPy keys its native engine pools by timeout, so hosted models keep theirs).
    """

    def __init__(self, *args: Any, pacer: TokenPacer | None = None, retries: int = 0,
                 closes_at_budget: bool = False, upstream: Any = None, window: int | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, num_retries=0, **kwargs)
        self.pacer = pacer
        self.retries = retries
        self.window = window
        """A context window the user declared: a larger prompt is refused before it is sent (lm.windows)."""
        self.upstream = upstream
        """Where an agent that is not DSPy's sends this model's requests (lm.metered.Upstream): the same model,
        server and key, metered through the same pacer and retries (run.endpoint)."""
        self.closes_at_budget = closes_at_budget
        self.request_timeout: float | None = kwargs.get("timeout")

    def update_history(self, entry: dict) -> None:
        """DSPy records every answered call here: log it into the current run as well."""
        control = current_run()
        usage = entry.get("usage") or {}
        _reported.set(usage)
        if control is not None:
            control.log_call(entry.get("messages"), entry.get("prompt"),
                             prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                             finish_reason=_finish_reason(entry.get("response")),
                             reply=_reply_text(entry.get("outputs")))
        super().update_history(entry)

    def _failed(self, prompt: str | None, messages: list[dict] | None, exc: BaseException) -> None:
        control = current_run()
        if control is not None and not isinstance(exc, RunCancelled):
            control.log_call(messages, prompt, error=f"{type(exc).__name__}: {str(exc)[:500]}")

    def _attempt_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's settings for one attempt: with `closes_at_budget`, a timeout no later than the budget."""
        control = current_run()
        left = control.seconds_left() if control is not None and self.closes_at_budget else None
        if left is None:
            return kwargs
        limit = min(left, self.request_timeout) if self.request_timeout else left
        return {**kwargs, "timeout": max(limit, 0.05)}

    def _within_window(self, prompt: str | None, messages: list[dict] | None) -> None:
        """A declared window refuses a larger prompt as the provider would: DSPy's own error, which its ReAct
        answers by truncating its trajectory; never retried."""
        if self.window is not None and (tokens := prompt_tokens(messages, prompt)) > self.window:
            raise ContextWindowExceededError(model=self.model, message=window_refusal(self.window, tokens))

    def _start(self, prompt: str | None, messages: list[dict] | None) -> Attempt:
        _reported.set(None)
        return begin_attempt(current_run(), self.pacer, messages, prompt)

    def _retry_or_raise(self, exc: Exception, attempt: int, prompt: str | None, messages: list[dict] | None) -> float:
        """Log the failed attempt; return the wait before the next one, or raise when there is none."""
        self._failed(prompt, messages, exc)
        return retry_wait(exc, attempt, self.retries, is_retryable_lm_error(exc))

    def __call__(self, prompt: str | None = None, *, messages: list[dict] | None = None, **kwargs: Any):
        for attempt in range(self.retries + 1):
            metered = self._start(prompt, messages)
            try:
                self._within_window(prompt, messages)
                return super().__call__(prompt, messages=messages, **self._attempt_kwargs(kwargs))
            except Exception as exc:
                wait = self._retry_or_raise(exc, attempt, prompt, messages)
            finally:
                end_attempt(metered, _reported.get())
            _pause(wait)

    async def acall(self, prompt: str | None = None, *, messages: list[dict] | None = None, **kwargs: Any):
        for attempt in range(self.retries + 1):
            metered = self._start(prompt, messages)
            try:
                self._within_window(prompt, messages)
                return await super().acall(prompt, messages=messages, **self._attempt_kwargs(kwargs))
            except Exception as exc:
                wait = self._retry_or_raise(exc, attempt, prompt, messages)
            finally:
                end_attempt(metered, _reported.get())
            await asyncio.to_thread(_pause, wait)


def _pause(seconds: float) -> None:
    """Wait before a retry; a run cancelled meanwhile stops waiting at once (RunCancelled)."""
    control = current_run()
    if control is None:
        time.sleep(seconds)
    else:
        control.pause(seconds)
