"""The truth pass: a task whose tools are the user's code, with a matcher and no declared findings, has its
ground truth read from its own tools before any run.

Each required check is called once (not in any run's time, not in any ledger), its answer read with the tool's
matcher (tasks.matcher), and the findings kept as the task's data, so scoring, the oracle and the report work as
for a task that declared them. The truth and its fingerprint go into the results header; a resumed invocation
whose tools now answer differently is refused.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from typing import Callable

from rlmbench.tasks.backends import RunTools, UserTools
from rlmbench.tasks.task import Check, Entry, Task, required_checks
from rlmbench.tasks.task_file import TaskFileError


def _details(answer: str | dict) -> str:
    if isinstance(answer, dict):
        return str(answer.get("details") or json.dumps(answer, sort_keys=True))
    return answer.strip()


def open_with_truth(task: Task, progress: Callable[[str], None]) -> UserTools:
    """The task's functions and server, ready, with the ground truth read from them when the task says so (the
    benchmark and GEPA start the same way); closed again if either step fails."""
    user_tools = UserTools.open(task)
    try:
        user_tools.task = read_truth(user_tools, progress)
    except BaseException:
        user_tools.close()
        raise
    return user_tools


def read_truth(user_tools: UserTools, progress: Callable[[str], None]) -> Task:
    """The task with its findings read from the tools' answers; TaskFileError for an answer the matcher reads
    as a severity outside the scale, or a check whose call fails."""
    task = user_tools.task
    if task.data.truth != "tools":
        return task
    started = time.perf_counter()
    checks = [c for c in required_checks(task.schema, task.full_case().inputs)
              if task.schema.tool(c.tool).finding is not None]
    findings = {name: dict(found) for name, found in task.data.findings.items()}
    run_tools: RunTools = user_tools.for_run()
    try:
        for check in checks:
            entry = _finding_of(task, run_tools, check)
            if entry is not None:
                findings.setdefault(check.tool, {})[check.key] = entry
    finally:
        run_tools.close()
    progress(f"Ground truth read from the tools: {len(checks)} checks, "
             f"{sum(len(f) for f in findings.values())} findings, in {time.perf_counter() - started:.2f} s "
             f"(before the runs, in none of their times)")
    return replace(task, data=replace(task.data, findings=findings))


def _finding_of(task: Task, run_tools: RunTools, check: Check) -> Entry | None:
    """The finding one check's answer states, by its tool's matcher; None for a clear answer."""
    tool = task.schema.tool(check.tool)
    at = f"tools[{task.schema.tools.index(tool)}]"
    call = f"{tool.name}({', '.join(check.args.values())})"
    try:
        answer = run_tools.answer(tool, check.args)
    except Exception as exc:  # noqa: BLE001  (the user's code: any error stops the pass)
        why = (str(exc).splitlines() or [""])[0][:200]
        raise TaskFileError(task.source, at, f"the truth pass called {call}, which raised "
                                             f"{type(exc).__name__}: {why}") from None
    reading = tool.finding.read(answer)
    if not reading.found:
        return None
    severity = reading.severity or tool.fixed_severity
    if severity not in task.schema.severities:
        raise TaskFileError(task.source, f"{at}.finding", f"{call} answered severity {severity!r}, not in the "
                                                         f"scale {', '.join(task.schema.severities)}")
    return Entry(severity, _details(answer))
