"""How a run went wrong, detected from its trace: the tool ledger, the LM call log, the steps and
the code cells. Nothing here is guessed from what the model says it did; each item names the
positions where it happened, so a reader can find them in the traces file.
"""

from __future__ import annotations

import ast

from rlmbench.lm.adapter_text import TRAJECTORY_TRUNCATED
from rlmbench.results.records import CodeCell, Diagnostics, LMCall
from rlmbench.results.traces import TraceKind, reasked
from rlmbench.scoring.ledger import ToolCall, checks_made
from rlmbench.tasks.task import TaskSchema, check_key


def _tree(code: str) -> ast.AST | None:
    """A cell's syntax tree (top-level await allowed, as in the sandbox); None for a cell that is not Python."""
    try:
        return compile(code, "<cell>", "exec", flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    except (SyntaxError, ValueError):
        return None


def parses(code: str) -> bool:
    return _tree(code) is not None


def assigned_names(code: str) -> set[str]:
    """Names a code cell binds at any level: def, class, assignment, loop target, import."""
    tree = _tree(code)
    if tree is None:
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
    """Repeated calls (a retry after a failure is no repeat: the first got no answer) and invalid ones."""
    repeated, invalid, seen = [], [], set()
    for i, call in enumerate(calls, 1):
        tool = schema.tool(call.tool)
        key = (call.tool, check_key(tool, call.args) if tool else tuple(sorted(call.args.items())))
        if key in seen:
            repeated.append(i)
        if call.outcome not in ("transient_failure", "tool_error"):
            seen.add(key)
        if call.outcome == "invalid":
            invalid.append(i)
    return repeated, invalid


def lost_to_failures(schema: TaskSchema, calls: list[ToolCall]) -> list[int]:
    """Positions of the calls that failed transiently and whose check was never answered."""
    made = checks_made(schema, calls)
    return [i for i, call in enumerate(calls, 1) if call.outcome == "transient_failure"
            and (tool := schema.tool(call.tool)) is not None and (call.tool, check_key(tool, call.args)) not in made]


def _cells(diagnostics: Diagnostics, cells: list[CodeCell], tool_names: set[str]) -> None:
    diagnostics.code_cells = len(cells)
    if not any(parses(cell.code) for cell in cells):  # shadowing is read from parsed code: with none, unknown
        diagnostics.cells_shadowing_tools = None
    shadowed: set[str] = set()
    previous = None
    for cell in cells:
        hits = assigned_names(cell.code) & tool_names
        if hits and diagnostics.cells_shadowing_tools is not None:
            diagnostics.cells_shadowing_tools.append(cell.index)
            shadowed |= hits
        if previous is not None and cell.code.strip() == previous:
            diagnostics.cells_repeated.append(cell.index)
        if cell.error is not None:
            diagnostics.cells_failed.append(cell.index)
        previous = cell.code.strip()
    diagnostics.shadowed_tools = sorted(shadowed)


def diagnose(schema: TaskSchema, kind: TraceKind, runs_code: bool, trace: dict, step_limit: int | None,
             calls: list[ToolCall], lm_calls: list[LMCall], cells: list[CodeCell],
             failures_injected: bool = False, dspy_log: list[dict] | None = None) -> Diagnostics:
    """Everything the run's trace says went wrong; its shape is read by its approach's TraceKind."""
    ended = kind.ended_by_agent(trace)
    steps = kind.steps_used(trace)
    used = steps if steps is not None else kind.steps_from_log(len(calls), lm_calls, len(cells))
    # Without its trace (a run cut at --timeout) a run's end is unknown, unless its log shows every step used.
    hit = (not ended) if ended is not None else (
        True if step_limit is not None and used is not None and used >= step_limit else None)
    diagnostics = Diagnostics(steps_used=used, steps_from_log=steps is None, step_limit=step_limit,
                              hit_step_limit=hit)
    diagnostics.repeated_tool_calls, diagnostics.invalid_tool_calls = _ledger(schema, calls)
    failed = any(c.outcome == "transient_failure" for c in calls)  # else nothing could be lost: not a 0
    diagnostics.lost_to_failures = lost_to_failures(schema, calls) if failures_injected and failed else None
    diagnostics.user_tool_errors = ([i for i, call in enumerate(calls, 1) if call.outcome == "tool_error"]
                                    if schema.user_code else None)
    diagnostics.truncated_replies = [c.index for c in lm_calls if c.finish_reason == "length"]
    if kind.truncates_trajectory:
        diagnostics.trajectories_truncated = [e["at_lm_call"] for e in dspy_log or []
                                              if e["message"].startswith(TRAJECTORY_TRUNCATED)]
    diagnostics.reasked = reasked(lm_calls)
    diagnostics.dropped_tool_calls = kind.dropped_calls(trace, lm_calls)
    diagnostics.unparsed_steps = kind.unparsed_steps(trace)
    tool_names = {t.name for t in schema.tools}
    diagnostics.tool_errors = kind.tool_error_steps(trace)
    diagnostics.unknown_tools = kind.unknown_tools(trace, tool_names)
    if runs_code:
        _cells(diagnostics, cells, tool_names)
        diagnostics.submitted = kind.submitted(trace)
    return diagnostics
