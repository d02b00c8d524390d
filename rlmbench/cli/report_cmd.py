"""`rlmbench report`: rebuild the HTML report of an earlier invocation from its results files.

    rlmbench report results/results_<time>_<task>_<model>.json
    rlmbench report RESULTS.json --output page.html --task path/to/task.toml

The page is written next to the .json (same name, .html) unless --output says otherwise; the
traces come from the .traces.jsonl beside it. The task is loaded as the results file names it
(a built-in by name, a user's file by its path); --task points at a file that has moved.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlmbench.exits import EXIT_CONFIG, EXIT_OK
from rlmbench.report.page import rebuild_page
from rlmbench.results.files import ResultsFiles, ResultsReadError


def build_parser(prog: str | None = None, description: str = __doc__) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the invocation's results .json (or its .jsonl log)")
    parser.add_argument("--output", type=Path, help="the page to write (default: RESULTS with .html)")
    parser.add_argument("--task", help="the task's name or file, when the results file's own path no longer holds it")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None, description: str = __doc__) -> int:
    args = build_parser(prog, description).parse_args(argv)
    files = ResultsFiles.for_resume(args.results)
    try:
        path = rebuild_page(files.json_path, args.output or files.page_path, args.task)
    except ResultsReadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    print(f"Report: {path}")
    return EXIT_OK
