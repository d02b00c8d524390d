"""Live progress written to a file or a pipe: a line when something changes, a heartbeat otherwise."""

import io
from dataclasses import replace

from rlmbench.run.live_progress import LiveProgress, RunView

VIEW = RunView(model="qwen", approach="ReAct", run=1, runs=2, task="drugs", case=None, elapsed_s=0.0, lm_calls=0,
               lm_call_in_flight_s=None, tool_calls=0, covered=0, required=35, cells=None, steps="steps 0/40")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _lines(updates: list[tuple[float, RunView]]) -> list[str]:
    stream, clock = io.StringIO(), Clock()
    progress = LiveProgress(stream, clock=clock)
    for at, view in updates:
        clock.now = at
        progress.update([replace(view, elapsed_s=at)])
    return stream.getvalue().splitlines()


def test_an_unchanged_run_gets_a_heartbeat_every_30_s_and_a_change_gets_a_line():
    waiting = replace(VIEW, lm_call_in_flight_s=1.0)
    updates = [(t / 2, waiting) for t in range(1, 130)]  # 64 s of one LM call under way, polled twice a second
    updates += [(65.0, replace(VIEW, lm_calls=1, tool_calls=1, covered=1, steps="steps 1/40"))]
    lines = _lines(updates)
    assert len(lines) == 4  # at 2 s (its first), 32 s and 62 s (heartbeats), 65 s (the answer came)
    assert "LM calls 0 (one under way for 1 s)" in lines[0] and lines[0].startswith("  ... qwen: ReAct 1/2")
    assert "LM calls 1 (none under way), tool calls 1, checks 1/35, steps 1/40" in lines[-1]


def test_a_run_shorter_than_the_gap_prints_nothing_and_changes_are_spaced():
    assert _lines([(0.5, VIEW), (1.0, replace(VIEW, lm_calls=1))]) == []
    busy = [(2 + t / 10, replace(VIEW, tool_calls=t)) for t in range(40)]  # a change every 0.1 s for 4 s
    assert len(_lines(busy)) == 2  # at 2 s and at 4 s
