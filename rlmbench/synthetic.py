"""Generated tasks of any size, with known ground truth, for the scale sweep.

The thesis is about how each architecture's cost grows with the number of checks, so the
sweep needs cases far larger than a task file's own. A generated task keeps the file's
schema (its tools, wording, severity scale and risk rule) and draws new data with a fixed
seed: items named after each list's entity (`drug_01`, `system_17`), findings at the share
the task declares (`finding_rate`) or else at the file's own share, with severities drawn
in the file's own proportions, and attribute values drawn from the file's values. Like the
built-in tasks, it is simulated: the names are placeholders.
"""

from __future__ import annotations

import random
from collections import Counter

from rlmbench.sizes import Size
from rlmbench.task import Entry, Task, TaskData, TaskSchema, check_key, normalise_name, required_checks, tool_keys

FALLBACK_RATE = 0.1


def _items(schema: TaskSchema, size: Size) -> dict[str, tuple[str, ...]]:
    """Placeholder names for each list, from its entity: drug_01, drug_02, ..."""
    return {spec.name: tuple(f"{normalise_name(spec.entity)}_{i:02d}" for i in range(1, n + 1))
            for spec, n in zip(schema.lists, size.lengths)}


def checks_at(schema: TaskSchema, size: Size) -> int:
    """Required checks of a generated case of this size (no ground truth drawn)."""
    return len(required_checks(schema, {name: list(items) for name, items in _items(schema, size).items()}))


def _finding_rate(task: Task, tool_name: str) -> float:
    tool = task.schema.tool(tool_name)
    if tool.finding_rate is not None:
        return tool.finding_rate
    keys = len(tool_keys(tool, {name: list(items) for name, items in task.data.items.items()}))
    found = len(task.data.findings.get(tool_name, {}))
    return found / keys if keys and found else FALLBACK_RATE


def synthetic_task(task: Task, size: Size, seed: int = 0) -> Task:
    schema = task.schema
    rng = random.Random(f"{seed}-{schema.name}-{size}")
    items = _items(schema, size)
    inputs = {name: list(names) for name, names in items.items()}
    findings: dict = {}
    for tool in schema.finding_tools:
        rate = _finding_rate(task, tool.name)
        observed = Counter(e.severity for e in task.data.findings.get(tool.name, {}).values())
        scale = [s for s in schema.severities if observed[s]] or list(schema.severities)
        weights = [observed[s] or 1 for s in scale]
        entries = {}
        for values in tool_keys(tool, inputs):
            if rng.random() < rate:
                severity = tool.fixed_severity or rng.choices(scale, weights=weights)[0]
                entries[check_key(tool, dict(zip(tool.args, values)))] = Entry(
                    severity, f"Simulated {severity} {tool.label}.")
        findings[tool.name] = entries
    values = {}
    for tool_name, table in task.data.values.items():
        pool = sorted(set(table.values()))
        tool = schema.tool(tool_name)
        values[tool_name] = {item: rng.choice(pool) for item in items[tool.lists[0]]}
    return Task(schema, TaskData(items, findings, values), f"{task.source}, generated at {size} (seed {seed})")
