"""Generated tasks of any size, with known ground truth, for the scale sweep.

The thesis is about how each architecture's cost grows with the number of checks, so the
sweep needs cases far larger than a task file's own. A generated task keeps the file's
schema (its tools, wording, severity scale and risk rule) and draws new data with a fixed
seed: items named after each list's entity (`drug_01`, `system_17`), findings at the share
the task declares (`finding_rate`) or else at the file's own share, with severities drawn
in the file's own proportions, and attribute and follow-up values drawn from the file's values. Like the
built-in tasks, it is simulated: the names are placeholders.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from rlmbench.tasks.sizes import MAX_ITEMS, Size, default_sizes, parse_sizes
from rlmbench.tasks.task import (
    Entry,
    Task,
    TaskData,
    TaskSchema,
    check_key,
    normalise_name,
    required_check_count,
    tool_keys,
)

FALLBACK_RATE = 0.1


def _items(schema: TaskSchema, size: Size) -> dict[str, tuple[str, ...]]:
    """Placeholder names for each list, from its entity: drug_01, drug_02, ..."""
    return {spec.name: tuple(f"{normalise_name(spec.entity)}_{i:02d}" for i in range(1, n + 1))
            for spec, n in zip(schema.lists, size.lengths)}


def checks_at(schema: TaskSchema, size: Size) -> int:
    """Required checks of a generated case of this size (nothing generated)."""
    return required_check_count(schema, {spec.name: n for spec, n in zip(schema.lists, size.lengths)})


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
    follow_ups = {}
    for tool in schema.follow_up_tools:  # each new finding that requires it gets a value from the file's own
        pool = sorted(set(task.data.follow_ups.get(tool.name, {}).values())) or [f"{tool.label.upper()}-1"]
        follow_ups[tool.name] = {key: rng.choice(pool) for key, entry in findings[tool.follow_up.after].items()
                                 if entry.severity in tool.follow_up.when}
    values = {}
    for tool_name, table in task.data.values.items():
        pool = sorted(set(table.values()))
        tool = schema.tool(tool_name)
        values[tool_name] = {item: rng.choice(pool) for item in items[tool.lists[0]]}
    return Task(schema, TaskData(items, findings, values, follow_ups=follow_ups),
                f"{task.source}, generated at {size} (seed {seed})")


def sweep_sizes(schema: TaskSchema, text: str | None) -> tuple[Size, ...]:
    """The sizes `--scale TEXT` asks for on this task; with no text, the task's own defaults.

    Besides sizes, TEXT may hold `default` (the task's own sizes) and `10k` (a size with at least
    10,000 required checks, made by scaling the task's largest default size up evenly), so
    `--scale default,10k` is the default sweep with an opt-in point at ten thousand checks."""
    names = [spec.name for spec in schema.lists]
    defaults = parse_sizes(",".join(schema.sweep), names) if schema.sweep else default_sizes(len(names))
    if text is None:
        return defaults
    sizes: list[Size] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if part == "default":
            sizes += defaults
        elif match := re.fullmatch(r"(\d+)k", part):
            sizes.append(size_with_checks(schema, defaults[-1], int(match[1]) * 1000))
        else:
            sizes += parse_sizes(part, names)
    if not sizes:
        raise ValueError("no sizes given")
    return tuple(dict.fromkeys(sizes))


def size_with_checks(schema: TaskSchema, base: Size, target: int) -> Size:
    """`base` with every list grown by the same factor until the case has at least `target` required checks."""
    factor = 1.0
    while True:
        size = Size(tuple(max(1, round(n * factor)) for n in base.lengths))
        if max(size.lengths) > MAX_ITEMS:
            raise ValueError(f"{target:,} checks need more than {MAX_ITEMS} items in a list of task {schema.name}")
        if checks_at(schema, size) >= target:
            return size
        factor *= 1.01
