"""Live progress on stderr while runs work, so a slow model or a retrying provider is not mistaken
for a hang. On a terminal one line per active run is updated in place (rich); otherwise each
active run gets a plain line at most every `interval_s` seconds. Nothing goes to stdout, so
`| tee` still captures a clean summary.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO

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
    tool_calls: int
    covered: int
    required: int
    cells: int | None
    """Code cells run so far; None for an approach without a sandbox."""
    step_limit: int | None

    def line(self) -> str:
        where = f"{self.task} {self.case}" if self.case else self.task
        steps = (f"cells {self.cells}/{self.step_limit}" if self.cells is not None
                 else f"step limit {self.step_limit}")
        return (f"{self.model}: {self.approach} {self.run}/{self.runs} on {where}: {self.elapsed_s:.0f} s, "
                f"LM calls {self.lm_calls}, "
                f"tool calls {self.tool_calls}, checks {self.covered}/{self.required}, {steps}")


class LiveProgress:
    def __init__(self, stream: TextIO = sys.stderr, interval_s: float = 5.0) -> None:
        self.stream = stream
        self.interval_s = interval_s
        self.live: Live | None = None
        self._last_line: dict[tuple, float] = {}

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
        now = time.monotonic()
        for view in views:
            key = (view.model, view.approach, view.run, view.case)
            first = self._last_line.setdefault(key, now)
            if now - first >= self.interval_s:
                print(f"  ... {view.line()}", file=self.stream, flush=True)
                self._last_line[key] = now

    def finished(self, line: str) -> None:
        """A finished run's line, printed above the live lines."""
        if self.live is not None:
            self.live.console.print(line, markup=False, highlight=False)
        else:
            print(line, file=self.stream, flush=True)
