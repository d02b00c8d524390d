"""Rebuild the HTML report of an earlier invocation from its results files.

    uv run python html_report.py results/results_<time>_<task>_<model>.json
    uv run python html_report.py RESULTS.json --output page.html --task path/to/task.toml

The page is written next to the .json (same name, .html) unless --output says otherwise; the
traces come from the .traces.jsonl beside it. The task is loaded as the results file names it
(a built-in by name, a user's file by its path); --task points at a file that has moved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)
from rlmbench.html_page import page_path, rebuild_page
from rlmbench.results_files import ResultsReadError

EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the invocation's results .json (or its .jsonl log)")
    parser.add_argument("--output", type=Path, help="the page to write (default: RESULTS with .html)")
    parser.add_argument("--task", help="the task's name or file, when the results file's own path no longer holds it")
    args = parser.parse_args(argv)
    results = args.results.with_suffix(".json") if args.results.suffix == ".jsonl" else args.results
    try:
        path = rebuild_page(results, args.output or page_path(results), args.task)
    except ResultsReadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"Report: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
