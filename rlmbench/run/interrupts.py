"""Ctrl-C while the benchmark finishes: the first one stops the runs; after that, nothing may cut the write-up.

A terminal's Ctrl-C reaches the benchmark once, but a script or CI that interrupts the whole process group
(`kill -INT -PGID`) reaches `uv run` too, which forwards its own SIGINT about 200 ms later; a user may also
press Ctrl-C twice. Raised inside the write-up, that second KeyboardInterrupt lost the summary and the page.
So once the runs are stopped (or done), SIGINT is only noted until `run()` ends: every finished run is
already saved, and the summary and the page take seconds. SIGTERM still ends the process at once.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator

NOTED = ("Ctrl-C again: the runs are already stopped and saved; writing the summary and the page first "
         "(SIGTERM stops at once).")


def _noted(signum: int, frame: object) -> None:
    print(NOTED, file=sys.stderr, flush=True)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # said once; the write-up finishes


def hold_interrupts() -> None:
    """From now until `interrupts_restored` ends, Ctrl-C is noted, never raised (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _noted)


@contextmanager
def interrupts_restored() -> Iterator[None]:
    """Around a whole invocation: SIGINT's handler as it was before, whatever held it meanwhile."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGINT) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
