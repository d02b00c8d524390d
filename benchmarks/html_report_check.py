"""Open an HTML report in headless Chromium: time its load, catch console errors, take a screenshot.

    uv run python benchmarks/html_report_check.py results/<name>.html --screenshot docs/report.png
    uv run python benchmarks/html_report_check.py PAGE.html --open run-3 --screenshot run3.png

The check is `rlmbench/report/browser_check.py`; see its docstring for what it measures.
"""

import sys

from rlmbench.report.browser_check import main

if __name__ == "__main__":
    sys.exit(main())
