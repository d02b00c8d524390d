"""The task's MCP server (`[server]`): started over stdio in the task file's folder, or reached at a URL.

The connection lives on the shared AsyncLoop, in one task that holds the SDK's context managers open until
`stop()` (anyio wants a context left in the task that entered it). A started server gets the MCP SDK's default
safe environment plus the task's `env`, never the user's API keys; its stderr goes to a file whose last lines
explain a server that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from rlmbench.tasks.backends.loop import AsyncLoop
from rlmbench.tasks.task import ServerSpec

STOP_TIMEOUT_S = 10.0


class ServerError(Exception):
    """The server did not come up, or stopped answering; str() says which, with its last stderr lines."""


class ToolCallError(Exception):
    """The server's tool answered with an error (`isError`): the agent sees it as any tool error."""


def _connection_lost(exc: BaseException) -> bool:
    """The server went away (a closed pipe or stream), as opposed to one call it refused."""
    import anyio

    if isinstance(exc, (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError, EOFError)):
        return True
    return "connection closed" in str(exc).lower()


class McpConnection:
    def __init__(self, spec: ServerSpec, folder: Path, loop: AsyncLoop) -> None:
        self.spec, self.folder, self.loop = spec, folder, loop
        self.tools: dict[str, Any] = {}
        """Name -> the server's tool (mcp.types.Tool): its input schema and description."""
        self._session = None
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Future | None = None
        self._stderr = None
        self.lost: BaseException | None = None
        """Why the connection ended while in use; None while it answers."""

    # -- lifecycle -------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect (and start the server); ServerError naming the problem."""
        if self.spec.command:
            self._stderr = tempfile.NamedTemporaryFile("w+", prefix="rlmbench-mcp-", suffix=".stderr", delete=False)
        try:
            self.loop.run(self._open(), timeout=self.spec.start_timeout_s)
        except Exception as exc:  # noqa: BLE001  (a server that does not come up: any reason is the message)
            if isinstance(exc, TimeoutError):
                exc = TimeoutError(f"no answer to the MCP handshake within {self.spec.start_timeout_s:g} s "
                                   f"(server.start_timeout_s)")
            why = self._why(exc, "did not start")
            self.stop(graceful=False)
            raise ServerError(why) from None

    async def _open(self) -> None:
        ready: asyncio.Future = asyncio.get_running_loop().create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.ensure_future(self._serve(ready))
        await ready

    async def _serve(self, ready: asyncio.Future) -> None:
        from mcp import ClientSession

        try:
            async with self._transport() as streams, ClientSession(streams[0], streams[1]) as session:
                await session.initialize()
                self.tools = {tool.name: tool for tool in (await session.list_tools()).tools}
                self._session = session
                ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:  # noqa: BLE001  (reported to the starter, or kept as why the server was lost)
            if not ready.done():
                ready.set_exception(exc if isinstance(exc, Exception) else RuntimeError(repr(exc)))
            elif not self._stop.is_set():
                self.lost = exc
        finally:
            self._session = None
            if not ready.done():
                ready.set_exception(ServerError("the server closed the connection"))

    @contextlib.asynccontextmanager
    async def _transport(self):
        if self.spec.url:
            from mcp.client.streamable_http import streamable_http_client

            async with streamable_http_client(self.spec.url) as streams:
                yield streams[0], streams[1]
            return
        from mcp.client.stdio import StdioServerParameters, stdio_client

        command = list(self.spec.command)
        if command[0] == "python":  # the interpreter the benchmark runs on, which has the MCP SDK
            command[0] = sys.executable
        params = StdioServerParameters(command=command[0], args=command[1:], env=dict(self.spec.env) or None,
                                       cwd=str(self.folder))
        async with stdio_client(params, errlog=self._stderr) as streams:
            yield streams[0], streams[1]

    def stop(self, graceful: bool = True) -> None:
        """End the connection and the server it started (at once unless `graceful`: a server that never came up
        gets no time to finish); waits for the server to exit."""
        if self._stop is not None and self._task is not None and not self.loop.loop.is_closed():
            async def end() -> None:
                self._stop.set()
                try:
                    await asyncio.wait_for(asyncio.shield(self._task), STOP_TIMEOUT_S if graceful else 0)
                except BaseException:  # noqa: BLE001  (still starting, or stuck: cancelling makes the SDK end it)
                    self._task.cancel()
                    with contextlib.suppress(BaseException):
                        await asyncio.wait_for(self._task, STOP_TIMEOUT_S)
            with contextlib.suppress(Exception):
                self.loop.run(end(), timeout=STOP_TIMEOUT_S + 5)
        self._task = self._stop = None
        if self._stderr is not None:
            self._stderr.close()
            with contextlib.suppress(OSError):
                os.unlink(self._stderr.name)
            self._stderr = None

    @property
    def alive(self) -> bool:
        return self._session is not None and self.lost is None

    # -- calls -----------------------------------------------------------------------------------------------

    def call(self, name: str, args: dict[str, Any]) -> str | dict:
        """The tool's answer: its structured content when it is a dict, else its text; ToolCallError for an
        `isError` answer, ServerError when the server is gone."""
        session = self._session
        if session is None or self.lost is not None:
            raise ServerError(self._why(self.lost, "is not running"))
        try:
            result = self.loop.run(session.call_tool(name, args))  # a hung server is ended by the run's --timeout
        except Exception as exc:  # noqa: BLE001
            if not _connection_lost(exc) and self.loop.run(self._still_serving()):
                raise ToolCallError(f"{type(exc).__name__}: {exc}") from None
            self.lost = self.lost or exc
            raise ServerError(self._why(exc, "stopped answering")) from None
        text = "\n".join(getattr(part, "text", "") for part in result.content if getattr(part, "text", None))
        if result.is_error:
            raise ToolCallError(text or "the tool answered with an error")
        structured = result.structured_content
        if isinstance(structured, dict):  # a tool returning a plain value wraps it in {"result": ...}
            inner = structured.get("result") if set(structured) == {"result"} else structured
            return inner if isinstance(inner, (dict, str)) else json.dumps(inner)
        return text

    async def _still_serving(self) -> bool:
        await asyncio.sleep(0.05)  # let the connection's task notice a closed pipe
        return self._task is not None and not self._task.done()

    def stderr_tail(self, lines: int = 8) -> str:
        if self._stderr is None:
            return ""
        try:
            text = Path(self._stderr.name).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def _why(self, exc: BaseException | None, what: str) -> str:
        while isinstance(exc, BaseExceptionGroup) and exc.exceptions:  # anyio's task groups wrap the cause
            exc = exc.exceptions[0]
        reason = "" if exc is None else f": {type(exc).__name__}: {str(exc)[:300]}"
        tail = self.stderr_tail()
        return (f"MCP server `{self.spec.describe()}` {what}{reason}"
                + (f"; its last stderr lines:\n{tail}" if tail else ""))
