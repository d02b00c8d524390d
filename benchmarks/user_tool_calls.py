"""What a call of a tool backed by your code costs the harness, measured on this machine (not a test).

    uv run python benchmarks/user_tool_calls.py [--calls 500]

Calls one check of the drug task directly through the benchmark's tool wrapper (the ledger, the checks of the
arguments, the answer), as every arm calls it, for each way a tool can be answered: the task's own table, a
plain Python function, an async function (run on the shared event loop), and an MCP server over stdio. Reports
the median time per call; the model and the sandbox bridge are not in it (benchmarks/harness_overhead.py has
those).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import rlmbench  # noqa: F401
from rlmbench.tasks.backends import UserTools
from rlmbench.tasks.task_file import load_task
from rlmbench.tasks.tools import make_tools

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def per_call_ms(tool, calls: int) -> float:
    times = []
    for _ in range(calls):
        started = time.perf_counter()
        tool(drug="metformin", condition="chronic_kidney_disease") if "condition" in tool.__signature__.parameters \
            else tool(drug_a="warfarin", drug_b="aspirin")
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=500)
    calls = parser.parse_args().calls
    rows = [("table (built-in drugs)", per_call_ms(make_tools(load_task("drugs"))[0], calls))]
    for label, example, index in (("Python function", "drugs_python", 0), ("async Python function", "drugs_python", 1),
                                  ("MCP server over stdio", "drugs_mcp", 0)):
        user_tools = UserTools.open(load_task(str(EXAMPLES / example / "task.toml")))
        try:
            run_tools = user_tools.for_run()
            tool = make_tools(user_tools.task, user_code=run_tools.answer)[index]
            rows.append((label, per_call_ms(tool, calls)))
            run_tools.close()
        finally:
            user_tools.close()
    print(f"Median time per tool call through the benchmark's wrapper ({calls} calls each, this machine)")
    for label, ms in rows:
        print(f"  {label:<24} {ms:8.3f} ms")


if __name__ == "__main__":
    main()
