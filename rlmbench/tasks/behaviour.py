"""How a task's tools behave beyond their answers: the time a call takes and the calls that fail
transiently, as a real service's would.

The built-in lookup tables answer at once, which hides what the study's timing claim depends on:
DSPy 3.4.1 runs an RLM's tool calls one at a time (a synchronous bridge) and ReActV2 runs a turn's
calls in a loop, so with a latency L a run of N checks waits at least N x L in every arm. Real
services also fail now and then (timeouts, 503s, rate limits): the agent that retries keeps its
coverage, the one that does not loses checks. A task file gives each tool a latency and a transient
failure rate (docs/task-files.md); `--tool-latency` and `--tool-faults` override them for every tool.

Every draw is deterministic: the same seed and the same check wait the same and fail the same in
every run and every arm, so a difference between arms is the arms', not the dice's.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Latency:
    """A tool call's wait: uniform in [mean - jitter, mean + jitter] milliseconds."""

    mean_ms: float = 0.0
    jitter_ms: float = 0.0

    @property
    def none(self) -> bool:
        return self.mean_ms == 0 and self.jitter_ms == 0

    def seconds(self, seed: int, tool: str, key: tuple[str, ...]) -> float:
        """The wait of one check, the same for every call of it under one seed."""
        if self.jitter_ms == 0:
            return self.mean_ms / 1000
        return (self.mean_ms + self.jitter_ms * (2 * unit_draw(seed, "latency", tool, *key) - 1)) / 1000

    def text(self) -> str:
        """`80 +/- 40 ms`, `25 ms`."""
        return f"{self.mean_ms:g} +/- {self.jitter_ms:g} ms" if self.jitter_ms else f"{self.mean_ms:g} ms"


def unit_draw(seed: int, *parts: str) -> float:
    """A number in [0, 1) fixed by the seed and the parts: the same check draws the same in every run."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class ToolSettings:
    """The invocation's say over how the tools behave (`--seed`, `--tool-latency`), on top of the task's."""

    seed: int = 0
    """Fixes every draw (which wait a check gets)."""
    latency: Latency | None = None
    """Every tool's latency instead of the task's; None: the task's own."""
    failure_rate: float | None = None
    """Every tool's transient failure rate instead of the task's; None: the task's own."""
    answer_tokens: int | None = None
    """Every table tool's answer size instead of the task's (`--tool-answer-tokens`); None: the task's own."""
    user_tools: Any = None
    """The user's functions and server this invocation opened (tasks.backends.UserTools); None for a task of
    lookup tables. Typed loosely: this module is imported by the task's schema, which the backends import."""

    def latency_of(self, own: Latency) -> Latency:
        return self.latency if self.latency is not None else own

    def answer_tokens_of(self, own: int) -> int:
        return self.answer_tokens if self.answer_tokens is not None else own

    def failure_rate_of(self, own: float) -> float:
        return self.failure_rate if self.failure_rate is not None else own

    def fails_first(self, rate: float, tool: str, key: tuple[str, ...]) -> bool:
        """Whether this check's first call fails: the share `rate` of the checks, the same ones under one seed."""
        return rate > 0 and unit_draw(self.seed, "failure", tool, *key) < rate
