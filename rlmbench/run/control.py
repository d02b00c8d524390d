"""What one run records as it goes, and how it is stopped: its LM call log, its code cells, the time
each part took (records.TimeSplit), and its cancellation. A timed-out run is stopped where it can be:
its sandboxes are shut down (which ends any code they were running), and its next LM call (lm.gated.GatedLM
checks it) and its next tool call raise `RunCancelled`.
"""

from __future__ import annotations

import functools
import threading
import time
from typing import Any, Callable

from rlmbench.lm.adapter_text import is_json_request, message_text
from rlmbench.lm.gated import RunCancelled
from rlmbench.results.records import CodeCell, LMCall


class RunControl:
    """One run's cancellation flag, the sandboxes it started, and the time it spent waiting for pacing."""

    def __init__(self) -> None:
        self._cancelled = threading.Event()
        self._lock = threading.Lock()
        self._interpreters: list[Any] = []
        self.pacing_wait_s = 0.0
        self.started: float | None = None  # the run's clock, set by the runner
        self.budget_s: float | None = None  # --timeout, set by the runner
        self._calls: list[LMCall] = []
        self._in_flight: tuple[float, list[dict] | None, str | None] | None = None  # (sent at, messages, prompt)
        self._cells: list[CodeCell] = []
        self._dspy_log: list[dict] = []  # what DSPy's modules logged for this run (run.dspy_messages)
        # Where the wall time goes (records.TimeSplit): each part timed around its own code.
        self.model_s = self.model_in_cells_s = self.tools_s = self.tools_in_cells_s = self.cells_s = 0.0
        self._tools_running, self._tools_since = 0, 0.0  # overlapping tool calls count once (timed_tool)
        self._cell_started: float | None = None

    @property
    def interpreters(self) -> list[Any]:
        """The sandboxes the run was handed, in order."""
        with self._lock:
            return list(self._interpreters)

    @property
    def lm_calls(self) -> list[LMCall]:
        """The calls answered or failed so far."""
        with self._lock:
            return list(self._calls)

    def lm_calls_to_now(self) -> list[LMCall]:
        """The calls answered or failed, then the one in flight (if any) as cancelled at this moment: what a
        run recorded now (at its budget) did."""
        with self._lock:
            calls = list(self._calls)
            if self._in_flight is not None:
                sent, messages, prompt = self._in_flight
                calls.append(self._call(len(calls) + 1, sent, messages, prompt, cancelled=True))
        return calls

    def lm_call_in_flight_s(self) -> float | None:
        """How long the LM call under way has been waiting; None when none is."""
        with self._lock:
            return None if self._in_flight is None else time.perf_counter() - self._in_flight[0]

    def begin_call(self, messages: list[dict] | None, prompt: str | None) -> None:
        with self._lock:
            self._in_flight = (time.perf_counter(), messages, prompt)

    def log_call(self, messages: list[dict] | None, prompt: str | None, **fields: Any) -> None:
        """An answered or failed call (DSPy's history entry), timed from its begin_call."""
        with self._lock:
            sent = self._in_flight[0] if self._in_flight is not None else None
            self._in_flight = None
            self._calls.append(self._call(len(self._calls) + 1, sent, messages, prompt, **fields))

    def _call(self, index: int, sent: float | None, messages: list[dict] | None, prompt: str | None,
              **fields: Any) -> LMCall:
        texts = [message_text(m.get("content")) for m in messages or []] or [prompt or ""]
        last_user = next((message_text(m.get("content")) for m in reversed(messages or [])
                          if m.get("role") == "user"), prompt or "")
        now = time.perf_counter()
        at = sent if sent is not None else now
        return LMCall(index=index, at_s=at - self.started if self.started is not None else 0.0,
                      duration_s=None if sent is None else now - sent,
                      request_format="json" if is_json_request(last_user) else "chat",
                      request_messages=len(messages or []) or 1, request_chars=sum(map(len, texts)), **fields)

    def note_dspy(self, logger: str, message: str) -> None:
        """A message a DSPy module logged while this run worked, kept in its trace instead of on stderr."""
        with self._lock:
            self._dspy_log.append({"at_lm_call": len(self._calls), "logger": logger, "message": message[:4000]})

    @property
    def dspy_log(self) -> list[dict]:
        with self._lock:
            return list(self._dspy_log)

    def seconds_left(self) -> float | None:
        """What is left of the run's budget; None without a budget or before the clock started."""
        if self.budget_s is None or self.started is None:
            return None
        return self.budget_s - (time.perf_counter() - self.started)

    def pause(self, seconds: float) -> None:
        """Sleep, but raise RunCancelled as soon as the run is cancelled."""
        if self._cancelled.wait(seconds):
            self.check()

    def start_cell(self, code: str) -> CodeCell:
        """Log a cell as it starts, so one that never returns is in the record of its timed-out run."""
        with self._lock:
            cell = CodeCell(index=len(self._cells) + 1, code=code, returned=False)
            self._cells.append(cell)
            self._cell_started = time.perf_counter()
        return cell

    def end_cell(self, cell: CodeCell, error: str | None, output: str | None) -> None:
        with self._lock:
            cell.error, cell.output, cell.returned = error, output, True
            if self._cell_started is not None:
                self.cells_s += time.perf_counter() - self._cell_started
                self._cell_started = None

    def add_model_time(self, seconds: float) -> None:
        with self._lock:
            self.model_s += seconds
            if self._cell_started is not None:
                self.model_in_cells_s += seconds

    def timed_tool(self, tool: Callable[..., Any]) -> Callable[..., Any]:
        """The tool, with the time inside it counted for the run (its name and signature unchanged).

        Calls that overlap (a batch runs several at once) count once: the time during which at least one tool
        call was running, so the parts of a run's wall time still add up to it."""
        @functools.wraps(tool)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self.check()  # a call started after the run's budget ran out raises at once, as an LM call does
            with self._lock:
                if self._tools_running == 0:
                    self._tools_since = time.perf_counter()
                self._tools_running += 1
            try:
                return tool(*args, **kwargs)
            finally:
                with self._lock:
                    self._tools_running -= 1
                    if self._tools_running == 0:
                        seconds = time.perf_counter() - self._tools_since
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


def _stop(interpreter: Any) -> None:
    # kill() ends a sandbox even mid-execution; a plain CodeInterpreter only has shutdown().
    (getattr(interpreter, "kill", None) or interpreter.shutdown)()


