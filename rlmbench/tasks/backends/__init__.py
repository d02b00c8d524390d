"""The user's own code behind a task's tools: Python functions (`function`) and an MCP server (`[server]`).

`UserTools.open(task)` is the seam: it imports the functions, starts (or reaches) the server, takes each tool's
arguments and docstring from the function's signature or the server's input schema where the file gives none,
and returns the task with those filled in. Each run then asks `for_run()` for its `RunTools`, whose `answer` is
what the benchmark's tool wrapper (tasks.tools) calls for a valid check: the run's ledger, latency and failure
draws work as for any task. Every problem at open is a TaskFileError naming the file and the field (exit 2).
"""

from __future__ import annotations

import inspect
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from rlmbench.tasks.backends.loop import AsyncLoop
from rlmbench.tasks.backends.mcp_client import McpConnection, ServerError, ToolCallError
from rlmbench.tasks.backends.python_tools import FunctionError, docstring, load_function, parameters
from rlmbench.tasks.task import Task, ToolSpec
from rlmbench.tasks.task_file import TaskFileError
from rlmbench.tasks.tool_entries import check_arg_count

__all__ = ["RunTools", "ServerError", "ToolCallError", "UserTools"]


def _one_line(text: str) -> str:
    return " | ".join(line.strip() for line in text.splitlines() if line.strip())


def _as_answer(value: Any) -> str | dict:
    """What a tool may answer: a string or a dict; anything else as its JSON (or its str)."""
    if isinstance(value, (str, dict)):
        return value
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return str(value)


class RunTools:
    """One run's way to the user's code: the functions, and the server this run uses (its own with `per_run`)."""

    def __init__(self, owner: "UserTools", connection: McpConnection | None, own: bool,
                 on_lost: Callable[[], None]) -> None:
        self._owner, self._connection, self._own, self._on_lost = owner, connection, own, on_lost
        self.lost: ServerError | None = None
        """The server died during this run: the run fails as tool_server_error with this."""

    def answer(self, tool: ToolSpec, args: dict[str, str]) -> str | dict:
        if tool.function is not None:
            function = self._owner.functions[tool.name]
            result = function(**args)
            if inspect.isawaitable(result):  # an async function runs on the shared loop, never in the caller's
                result = self._owner.loop.run(result)
            return _as_answer(result)
        if self._connection is None:
            raise ServerError("no MCP server for this run")
        try:
            return self._connection.call(tool.mcp, args)
        except ServerError as exc:
            if self.lost is None:
                self.lost = exc
                self._on_lost()
            raise

    def close(self) -> None:
        if self._own and self._connection is not None:
            self._connection.stop()


class UserTools:
    """The invocation's functions and server; `close()` stops the server and the loop (no process left)."""

    def __init__(self, task: Task) -> None:
        self.task = task
        self.folder = Path(task.source).parent
        self.loop = AsyncLoop()
        self.functions: dict[str, Callable] = {}
        self._shared: McpConnection | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(cls, task: Task) -> "UserTools":
        """Ready to answer, with `task` filled in from the code (see module doc); TaskFileError if not."""
        tools = cls(task)
        try:
            tools.task = tools._resolved()
        except BaseException:
            tools.close()
            raise
        return tools

    def _fail(self, where: str, problem: str) -> TaskFileError:
        return TaskFileError(self.task.source, where, _one_line(problem))

    def _resolved(self) -> Task:
        schema = self.task.schema
        server_tools: dict[str, Any] = {}
        if schema.server is not None:
            try:
                connection = self._connection()
            except ServerError as exc:
                raise self._fail("server", str(exc)) from None
            server_tools = connection.tools
            if schema.server.per_run:  # it listed the tools; every run starts its own
                connection.stop()
            else:
                self._shared = connection
        specs = []
        for i, tool in enumerate(schema.tools):
            at = f"tools[{i}]"
            if tool.function is not None:
                try:
                    function = load_function(tool.function, self.folder)
                except FunctionError as exc:
                    raise self._fail(f"{at}.function", str(exc)) from None
                self.functions[tool.name] = function
                tool = self._described(tool, parameters(function), docstring(function), f"{at}.function")
            elif tool.mcp is not None:
                found = server_tools.get(tool.mcp)
                if found is None:
                    raise self._fail(f"{at}.mcp", f"the server has no tool {tool.mcp!r}; it has: "
                                                  f"{', '.join(sorted(server_tools)) or 'none'}")
                names = list((found.input_schema or {}).get("properties", {}))
                tool = self._described(tool, names, found.description, f"{at}.mcp")
            specs.append(tool)
        return replace(self.task, schema=replace(schema, tools=tuple(specs)))

    def _described(self, tool: ToolSpec, names: list[str], doc: str | None, at: str) -> ToolSpec:
        """The tool with the code's arguments and docstring where the file gives none; the file's must fit them."""
        if tool.args and list(tool.args) != names:
            raise self._fail(at, f"takes ({', '.join(names)}), but the task file's args are ({', '.join(tool.args)})")
        check_arg_count(tool.kind, names, at, self._fail)
        if not tool.doc and not doc:
            raise self._fail(at, "has no docstring (description): give the tool a `doc`")
        return replace(tool, args=tuple(names), doc=tool.doc or doc.strip())

    def _connection(self) -> McpConnection:
        """A started connection to the task's server (ServerError if it does not come up)."""
        connection = McpConnection(self.task.schema.server, self.folder, self.loop)
        connection.start()
        return connection

    def for_run(self, on_lost: Callable[[], None] = lambda: None) -> RunTools:
        """The run's tools; a server that died in an earlier run is started afresh first. ServerError (the run's
        failure) when a server cannot be started now."""
        server = self.task.schema.server
        if server is None:
            return RunTools(self, None, False, on_lost)
        if server.per_run:
            return RunTools(self, self._connection(), True, on_lost)
        with self._lock:
            if self._shared is None or not self._shared.alive:
                if self._shared is not None:
                    self._shared.stop()
                self._shared = None  # and stays so if the new one does not start
                self._shared = self._connection()
            return RunTools(self, self._shared, False, on_lost)

    def close(self) -> None:
        if self._shared is not None:
            self._shared.stop()
            self._shared = None
        self.loop.close()
