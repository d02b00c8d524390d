"""Making sure a model's server is idle before the next run, after a run was cut at its budget.

A run cut by `--timeout` closes its request, but a local server (llama.cpp, llama-cpp-python's
single slot, a busy vLLM queue) may go on generating the abandoned reply for minutes. The next run
would then wait for it inside its own wall time and budget. So before that run's clock starts, the
benchmark sends a one-token request and waits for its answer: the server has finished what it was
doing. The wait is recorded on the next run (`records.IdleWait`), outside every run's wall time.
Hosted providers serve requests side by side and are not probed.
"""

from __future__ import annotations

import contextvars
import threading
import time

import dspy

from rlmbench.results.records import IdleWait

PROBE_MESSAGES = [{"role": "user", "content": "Reply with the single word: ok"}]
_probing: contextvars.ContextVar[bool] = contextvars.ContextVar("rlmbench_idle_probe", default=False)


def probing() -> bool:
    """Whether this thread is sending the idle probe: its one-token reply is cut by design, not a truncation that
    DSPy should warn of (run.dspy_messages drops that warning)."""
    return _probing.get()


class ServerWatch:
    """One model server's state across runs: whether a cut run may have left it working."""

    def __init__(self, lm: dspy.LM, bound_s: float, abandoned: tuple[str, ...] = ()) -> None:
        self.lm = lm
        self.bound_s = bound_s
        """The longest the benchmark waits for the server (the run budget: no request is allowed longer)."""
        self._lock = threading.Lock()
        self._abandoned: list[str] = list(abandoned)
        """Cut runs (or an earlier invocation) that may have left the server working."""

    def abandoned(self, run: str) -> None:
        """A run of this model was cut while it may have had a request in flight."""
        with self._lock:
            self._abandoned.append(run)

    def settle(self) -> IdleWait | None:
        """Before a run: wait until the server answers a one-token request, if a cut run came before."""
        with self._lock:  # one run waits; runs of the model that start meanwhile wait on the lock
            if not self._abandoned:
                return None
            after, self._abandoned = self._abandoned, []
            started = time.perf_counter()
            confirmed, problem = self._probe(started)
            return IdleWait(after=after, waited_s=time.perf_counter() - started, confirmed=confirmed,
                            problem=problem)

    def _probe(self, started: float) -> tuple[bool, str | None]:
        """Retried until the bound: a server still generating may refuse or drop a request meanwhile."""
        problem = None
        marked = _probing.set(True)
        try:
            while (left := self.bound_s - (time.perf_counter() - started)) > 0:
                try:
                    self.lm.forward(messages=PROBE_MESSAGES, max_tokens=1, timeout=max(left, 0.05))
                    return True, None
                except Exception as exc:
                    problem = f"{type(exc).__name__}: {str(exc)[:200]}"
                    time.sleep(min(1.0, max(self.bound_s - (time.perf_counter() - started), 0)))
            return False, problem or f"no answer within {self.bound_s:g} s"
        finally:
            _probing.reset(marked)
