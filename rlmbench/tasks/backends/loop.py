"""One event loop on a thread of its own, for every async part of a user's tools.

Why: DSPy 3.4.1's RLM calls an async tool with `asyncio.run` (or `run_until_complete` inside a running loop,
which fails), ReActV2 calls tools in a plain loop, and an MCP session belongs to the loop it was opened on. So
the MCP client and any async user function live on this loop, and every arm gets plain sync functions that
submit to it and wait: the same functions from the sandbox's bridge, from ReAct's thread, and from runs going at
once (`--concurrency`, several models side by side).
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Coroutine


class AsyncLoop:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="user-tools-loop", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        """The coroutine's result, computed on the loop; this thread waits (at most `timeout` seconds)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        if not self._thread.is_alive():
            self.loop.close()
