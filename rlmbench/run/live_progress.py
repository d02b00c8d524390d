"""Live progress on stderr while runs work, so a slow model or a retrying provider is not mistaken
for a hang. On a terminal one line per active run is updated in place (rich). Written to a file or a
pipe, a run gets a line when something changes (an LM call sent or answered, a code cell, a tool call),
at most one every `min_gap_s`, and otherwise a heartbeat every `heartbeat_s`. Every line says whether
an LM call is under way and for how long. Nothing goes to stdout, so `| tee` still captures a clean
summary.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable, TextIO

from rich.console import Console
from rich.live import Live
from rich.text import Text


@dataclass(frozen=True)
class RunView:
    """What one active run has done so far, as the runner sees it."""

    model: str
    approach: str
    run: int
    runs: int
    task: str
    case: str | None
    elapsed_s: float
    lm_calls: int
    """LM calls answered or failed so far."""
    lm_call_in_flight_s: float | None
    """How long the LM call under way has waited; None when none is."""
    tool_calls: int
    covered: int
    required: int
    cells: int | None
    """Code cells run so far; None for an approach without a sandbox."""
    steps: str
    """Steps used against the arm's own limit, in its own words (`executor steps 3/40`)."""

    @property
    def key(self) -> tuple:
        return (self.model, self.approach, self.run, self.case)

    @property
    def state(self) -> tuple:
        """What counts as a change worth a line."""
        return (self.lm_calls, self.lm_call_in_flight_s is not None, self.tool_calls, self.cells)

    def line(self) -> str:
        where = f"{self.task} {self.case}" if self.case else self.task
        waiting = (f"one under way for {self.lm_call_in_flight_s:.0f} s" if self.lm_call_in_flight_s is not None
                   else "none under way")
        return (f"{self.model}: {self.approach} {self.run}/{self.runs} on {where}: {self.elapsed_s:.0f} s, "
                f"LM calls {self.lm_calls} ({waiting}), tool calls {self.tool_calls}, "
                f"checks {self.covered}/{self.required}, {self.steps}")


class LiveProgress:
    def __init__(self, stream: TextIO | None = None, heartbeat_s: float = 30.0, min_gap_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = sys.stderr if stream is None else stream  # at the call: stderr may have been redirected
        self.clock = clock
        self.heartbeat_s = heartbeat_s
        self.min_gap_s = min_gap_s
        """Also how old a run must be before its first line: a run that ends sooner has only its finished line."""
        self.live: Live | None = None
        self._printed: dict[tuple, tuple[float, tuple]] = {}  # run -> (when its last line was printed, its state)

    def __enter__(self) -> "LiveProgress":
        if self.stream.isatty():
            self.live = Live(Text(""), console=Console(file=self.stream), refresh_per_second=4, transient=True)
            self.live.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.live is not None:
            self.live.stop()

    def update(self, views: list[RunView]) -> None:
        if self.live is not None:
            self.live.update(Text("\n".join(v.line() for v in views), no_wrap=True, overflow="ellipsis"))
            return
        now = self.clock()
        for view in views:
            if view.elapsed_s < self.min_gap_s:
                continue
            last, state = self._printed.get(view.key, (None, None))
            changed = state != view.state and (last is None or now - last >= self.min_gap_s)
            if changed or last is None or now - last >= self.heartbeat_s:
                print(f"  ... {view.line()}", file=self.stream, flush=True)
                self._printed[view.key] = (now, view.state)

    def finished(self, line: str) -> None:
        """A finished run's line, printed above the live lines."""
        if self.live is not None:
            self.live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)
