"""What guards and records each LM call of a run: the run's time budget, a tokens-per-minute
pace, and the run's own log of every call (and of every code cell its sandbox ran).

A run that exceeds `--timeout` is recorded as `timeout` by the runner and abandoned. Its
thread cannot be killed, so the run is stopped where it can be: its sandboxes are shut down
(which ends any code they were running) and its next LM call raises `RunCancelled` instead of
spending more of the user's budget. `GatedLM` is a `dspy.LM` that does both checks, and waits
for the shared `TokenPacer` when `--tpm` is set, so a long ReAct run stays under a provider's
tokens-per-minute limit instead of failing on 429s. It also logs every call into the run's
`RunControl` (reply, tokens, finish reason, request size), including calls that fail, so even a
failed or timed-out run can be diagnosed from the traces file alone.
"""

from __future__ import annotations

import contextvars
import functools
import json
import threading
import time
from collections import deque
from typing import Any, Callable

import dspy
from dspy.clients.legacy_outputs import value as response_value

from rlmbench.adapter_text import is_json_request
from rlmbench.records import CodeCell, LMCall
from rlmbench.tokens import count_tokens

REPLY_LIMIT = 20_000


class RunCancelled(Exception):
    """The run ran out of time; raised at its next LM call so an abandoned run stops calling the model."""


class RunControl:
    """One run's cancellation flag, the sandboxes it started, and the time it spent waiting for pacing."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._interpreters: list[Any] = []
        self.pacing_wait_s = 0.0
        self.started: float | None = None  # the run's clock, set by the runner
        self._calls: list[LMCall] = []
        self._cells: list[CodeCell] = []
        # Where the wall time goes (records.TimeSplit): each part timed around its own code.
        self.model_s = self.model_in_cells_s = self.tools_s = self.tools_in_cells_s = self.cells_s = 0.0
        self._cell_started: float | None = None

    @property
    def interpreters(self) -> list[Any]:
        """The sandboxes the run was handed, in order."""
        with self._lock:
            return list(self._interpreters)

    @property
    def lm_calls(self) -> list[LMCall]:
        with self._lock:
            return list(self._calls)

    def log_call(self, messages: list[dict] | None, prompt: str | None, **fields: Any) -> None:
        texts = [_content_text(m.get("content")) for m in messages or []] or [prompt or ""]
        last_user = next((_content_text(m.get("content")) for m in reversed(messages or [])
                          if m.get("role") == "user"), prompt or "")
        with self._lock:
            self._calls.append(LMCall(
                index=len(self._calls) + 1,
                at_s=time.perf_counter() - self.started if self.started is not None else 0.0,
                request_format="json" if is_json_request(last_user) else "chat",
                request_messages=len(messages or []) or 1, request_chars=sum(map(len, texts)), **fields))

    def start_cell(self, code: str) -> CodeCell:
        """Log a cell as it starts, so one that never returns is in the record of its timed-out run."""
        with self._lock:
            cell = CodeCell(index=len(self._cells) + 1, code=code, finished=False)
            self._cells.append(cell)
            self._cell_started = time.perf_counter()
        return cell

    def end_cell(self, cell: CodeCell, error: str | None, output: str | None) -> None:
        with self._lock:
            cell.error, cell.output, cell.finished = error, output, True
            if self._cell_started is not None:
                self.cells_s += time.perf_counter() - self._cell_started
                self._cell_started = None

    def add_model_time(self, seconds: float) -> None:
        with self._lock:
            self.model_s += seconds
            if self._cell_started is not None:
                self.model_in_cells_s += seconds

    def timed_tool(self, tool: Callable[..., Any]) -> Callable[..., Any]:
        """The tool, with the time inside it counted for the run (its name and signature unchanged)."""
        @functools.wraps(tool)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return tool(*args, **kwargs)
            finally:
                seconds = time.perf_counter() - started
                with self._lock:
                    self.tools_s += seconds
                    if self._cell_started is not None:
                        self.tools_in_cells_s += seconds
        return timed

    @property
    def cells(self) -> list[CodeCell]:
        with self._lock:
            return [cell.model_copy() for cell in self._cells]

    def check(self) -> None:
        if self._cancelled.is_set():
            raise RunCancelled("the run's time budget (--timeout) ran out")

    def track(self, interpreter: Any) -> Any:
        with self._lock:
            self._interpreters.append(interpreter)
        if self._cancelled.is_set():
            _stop(interpreter)
        return interpreter

    def cancel(self) -> None:
        """Stop the run where it can be stopped: its sandboxes now, its LM calls at the next one."""
        self._cancelled.set()
        with self._lock:
            interpreters = list(self._interpreters)
        for interpreter in interpreters:
            try:
                _stop(interpreter)
            except Exception:  # already gone
                pass


def _content_text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) if isinstance(part, dict) else str(part) for part in content)
    return "" if content is None else str(content)


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


def _stop(interpreter: Any) -> None:
    # kill() ends a sandbox even mid-execution; a plain CodeInterpreter only has shutdown().
    (getattr(interpreter, "kill", None) or interpreter.shutdown)()


_current_run: contextvars.ContextVar[RunControl | None] = contextvars.ContextVar("rlmbench_run", default=None)


def bind_run(control: RunControl) -> contextvars.Token:
    """Make `control` the current run's control in this thread (and in contexts copied from it)."""
    return _current_run.set(control)


def current_run() -> RunControl | None:
    return _current_run.get()


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


def _usage_totals() -> tuple[int, int, int]:
    """(LM calls, prompt tokens, completion tokens) in the run's own usage tracker (one per run and thread)."""
    tracker = dspy.settings.usage_tracker
    entries = [u for lists in tracker.usage_data.values() for u in lists] if tracker is not None else []
    return (len(entries), sum(int(u.get("prompt_tokens") or 0) for u in entries),
            sum(int(u.get("completion_tokens") or 0) for u in entries))


class GatedLM(dspy.LM):
    """A `dspy.LM` that honours the current run's cancellation and the shared token pace."""

    def __init__(self, *args: Any, pacer: TokenPacer | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pacer = pacer

    def _before(self, prompt: str | None, messages: list[dict] | None) -> tuple[list, tuple[int, int, int]] | None:
        control = current_run()
        if control is not None:
            control.check()
        if self.pacer is None:
            return None
        booking, waited = self.pacer.book(self.pacer.estimate(messages, prompt))
        if control is not None:
            control.pacing_wait_s += waited
            control.check()
        return booking, _usage_totals()

    def _after(self, state: tuple[list, tuple[int, int, int]] | None) -> None:
        if state is None:
            return
        booking, (calls_before, prompt_before, completion_before) = state
        calls, prompt, completion = _usage_totals()
        reported = calls > calls_before
        completion -= completion_before
        self.pacer.settle(booking, (prompt - prompt_before) + completion, completion if reported else None)

    def update_history(self, entry: dict) -> None:
        """DSPy records every answered call here: log it into the current run as well."""
        control = current_run()
        if control is not None:
            usage = entry.get("usage") or {}
            control.log_call(entry.get("messages"), entry.get("prompt"),
                             prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
                             finish_reason=_finish_reason(entry.get("response")),
                             reply=_reply_text(entry.get("outputs")))
        super().update_history(entry)

    def _failed(self, prompt: str | None, messages: list[dict] | None, exc: BaseException) -> None:
        control = current_run()
        if control is not None and not isinstance(exc, RunCancelled):
            control.log_call(messages, prompt, error=f"{type(exc).__name__}: {str(exc)[:500]}")

    def _timed(self, started: float) -> None:
        control = current_run()
        if control is not None:
            control.add_model_time(time.perf_counter() - started)

    def __call__(self, prompt: str | None = None, *, messages: list[dict] | None = None, **kwargs: Any):
        state = self._before(prompt, messages)
        started = time.perf_counter()  # after any pacing wait: model time is the call itself
        try:
            return super().__call__(prompt, messages=messages, **kwargs)
        except Exception as exc:
            self._failed(prompt, messages, exc)
            raise
        finally:
            self._timed(started)
            self._after(state)

    async def acall(self, prompt: str | None = None, *, messages: list[dict] | None = None, **kwargs: Any):
        state = self._before(prompt, messages)
        started = time.perf_counter()
        try:
            return await super().acall(prompt, messages=messages, **kwargs)
        except Exception as exc:
            self._failed(prompt, messages, exc)
            raise
        finally:
            self._timed(started)
            self._after(state)
