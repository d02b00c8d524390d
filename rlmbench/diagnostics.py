"""How a run went wrong, detected from its trace: the tool ledger, the LM call log, the steps and
the code cells. Nothing here is guessed from what the model says it did; each item names the
positions where it happened, so a reader can find them in the traces file.
"""

from __future__ import annotations

import ast

from rlmbench.ledger import ToolCall
from rlmbench.records import CodeCell, Diagnostics, LMCall
from rlmbench.task import TaskSchema, check_key

TOOL_ERROR = "Execution error in "
"""How DSPy's ReAct and ReActV2 report a tool call that failed before or inside the tool."""


def assigned_names(code: str) -> set[str]:
    """Names a code cell binds at any level: def, class, assignment, loop target, import."""
    try:
        tree = compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return set()
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def _ledger(schema: TaskSchema, calls: list[ToolCall]) -> tuple[list[int], list[int]]:
    repeated, invalid, seen = [], [], set()
    for i, call in enumerate(calls, 1):
        tool = schema.tool(call.tool)
        key = (call.tool, check_key(tool, call.args) if tool else tuple(sorted(call.args.items())))
        if key in seen:
            repeated.append(i)
        seen.add(key)
        if not call.valid:
            invalid.append(i)
    return repeated, invalid


def _react_errors(trajectory) -> list[int]:
    if not isinstance(trajectory, dict):  # the RLM's trajectory is a list of cells, not ReAct steps
        return []
    return [int(k.rsplit("_", 1)[1]) + 1 for k, v in trajectory.items()
            if k.startswith("observation_") and isinstance(v, str) and v.startswith(TOOL_ERROR)]


def _cells(diagnostics: Diagnostics, cells: list[CodeCell], tool_names: set[str]) -> None:
    diagnostics.code_cells = len(cells)
    shadowed: set[str] = set()
    previous = None
    for cell in cells:
        hits = assigned_names(cell.code) & tool_names
        if hits:
            diagnostics.cells_shadowing_tools.append(cell.index)
            shadowed |= hits
        if previous is not None and cell.code.strip() == previous:
            diagnostics.cells_repeated.append(cell.index)
        if cell.error is not None:
            diagnostics.cells_failed.append(cell.index)
        previous = cell.code.strip()
    diagnostics.shadowed_tools = sorted(shadowed)


def diagnose(schema: TaskSchema, approach: str, uses_sandbox: bool, trace: dict, steps: int | None,
             step_limit: int | None, calls: list[ToolCall], lm_calls: list[LMCall],
             cells: list[CodeCell]) -> Diagnostics:
    diagnostics = Diagnostics(steps_used=steps, step_limit=step_limit)
    diagnostics.repeated_tool_calls, diagnostics.invalid_tool_calls = _ledger(schema, calls)
    diagnostics.truncated_replies = [c.index for c in lm_calls if c.finish_reason == "length"]
    diagnostics.reasked = [c.index for prev, c in zip(lm_calls, lm_calls[1:])
                           if c.request_format == "json" and prev.request_format == "chat"]
    tool_names = {t.name for t in schema.tools}
    if "turns" in trace:  # ReActV2: several calls per turn, each with its result's error flag
        unknown = []
        for turn, entry in enumerate(trace["turns"], 1):
            for call in entry["tool_calls"]:
                if call["name"] not in tool_names and call["name"] != "submit":
                    unknown.append(call["name"])
                if call.get("error"):
                    diagnostics.tool_errors.append(turn)
        diagnostics.unknown_tools = sorted(set(unknown))
    else:
        diagnostics.tool_errors = _react_errors(trace.get("trajectory"))
    if uses_sandbox:
        _cells(diagnostics, cells, tool_names)
        diagnostics.submitted = trace.get("submitted", trace.get("planner_submitted"))
    return diagnostics
