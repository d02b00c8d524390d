"""`rlmbench tasks` (and `--list-tasks`): the built-in tasks, their lists and sizes, and the checks each requires."""

from __future__ import annotations

import argparse
from collections import Counter

from rlmbench.report.tables import lists_described, render_table
from rlmbench.tasks.task import required_checks, required_follow_ups
from rlmbench.tasks.task_file import builtin_names, load_task


def render_task_list() -> str:
    rows = []
    for name in builtin_names():
        task = load_task(name)
        lists = lists_described({list_name: len(items) for list_name, items in task.data.items.items()})
        counts = Counter(c.tool for c in required_checks(task.schema, task.full_case().inputs))
        by_tool = " + ".join(f"{counts[t.name]:,}" for t in task.schema.required_tools)
        follow_ups = Counter(c.tool for c in required_follow_ups(task, task.full_case()))
        rows.append((name, [lists, f"{sum(counts.values()):,}" + (f" ({by_tool})" if len(counts) > 1 else ""),
                            ", ".join(t.name for t in task.schema.required_tools),
                            ", ".join(f"{follow_ups[t.name]} {t.name}" for t in task.schema.follow_up_tools)
                            or "none"]))
    return render_table(["Task", "Lists", "Required checks", "Tools that must be called", "Follow-ups required"],
                        rows) + (
        "\n\nRun one with --task NAME, or --task PATH for a task file of your own (docs/task-files.md).")


def main(argv: list[str] | None = None, prog: str | None = None) -> int:
    argparse.ArgumentParser(prog=prog, description=__doc__).parse_args(argv)
    print(render_task_list())
    return 0
