"""Rebuild the HTML report of an earlier invocation from its results files.

    uv run python html_report.py results/results_<time>_<task>_<model>.json
    uv run python html_report.py RESULTS.json --output page.html --task path/to/task.toml

The page is written next to the .json (same name, .html) unless --output says otherwise; the
traces come from the .traces.jsonl beside it. The task is loaded as the results file names it
(a built-in by name, a user's file by its path); --task points at a file that has moved.
"""

import sys

import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)
from rlmbench.cli.report_cmd import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__))
