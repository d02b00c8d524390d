"""Open an HTML report in headless Chromium: time its load, catch console errors, take a screenshot.

    uv run python benchmarks/html_report_check.py results/<name>.html --screenshot docs/report.png
    uv run python benchmarks/html_report_check.py PAGE.html --open run-3 --screenshot run3.png

(benchmarks/html_report_check.py runs this module's `main`; tests/test_html_browser.py calls `check_page`.)

It needs a Chromium (Debian: `apt-get install -y chromium`). The page is opened from a copy with one
script added at its end: it opens the runs named by --open and logs the page's navigation timing,
which Chromium prints on stderr with every console message the page itself writes. Any console
message other than that timing line (an uncaught error, a failed load) fails the check: exit 1.
Exit 2: no browser, or no such page.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from rlmbench.exits import EXIT_CONFIG
from rlmbench.words import counted

MARK = "REPORT-CHECK"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
_CONSOLE = re.compile(r':CONSOLE[^\]]*\] "(?P<text>.*)", source: (?P<source>.*)$')


@dataclass(frozen=True)
class BrowserCheck:
    load_ms: float | None
    """The page's own navigation timing: from the start of navigation to the end of its load event."""
    dom_ready_ms: float | None
    runs: int | None
    """details.run elements the browser found in the page."""
    console: list[str]
    """Console messages other than this script's timing line: each one a problem."""
    wall_s: float
    """The whole browser process, start to exit (includes Chromium's own start-up)."""


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def _probe(open_runs: list[str], alone: bool) -> str:
    ids = json.dumps(open_runs)
    return f"""<script>
{ids}.forEach(function(id){{var r=document.getElementById(id);if(r)r.open=true;}});
if({json.dumps(alone)}){{var keep={ids}.map(function(id){{return document.getElementById(id);}}).filter(Boolean);
document.querySelector('header').hidden=true;[].forEach.call(document.querySelectorAll('main>*'),function(e){{e.hidden=true;}});
var runs=document.getElementById('runs');runs.hidden=false;
[].forEach.call(runs.children,function(r){{r.hidden=keep.indexOf(r)<0;}});}}
addEventListener('load',function(){{setTimeout(function(){{var n=performance.getEntriesByType('navigation')[0];
console.log('{MARK} '+JSON.stringify({{load:n.loadEventEnd,ready:n.domContentLoadedEventEnd,
runs:document.querySelectorAll('details.run').length}}));}},0);}});
</script>"""


def check_page(page: Path, screenshot: Path | None = None, open_runs: list[str] | None = None,
               size: tuple[int, int] = (1400, 2000), browser: str | None = None, alone: bool = False) -> BrowserCheck:
    browser = browser or find_browser()
    if browser is None:
        raise FileNotFoundError("no Chromium found: install it (Debian: apt-get install -y chromium)")
    text = page.read_text(encoding="utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / page.name
        at = text.rfind("</body>")
        copy.write_text(text[:at] + _probe(open_runs or [], alone) + text[at:], encoding="utf-8")
        args = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--enable-logging=stderr",
                "--v=0", f"--window-size={size[0]},{size[1]}", f"--user-data-dir={tmp}/profile",
                "--virtual-time-budget=5000"]
        args += [f"--screenshot={screenshot.resolve()}"] if screenshot else ["--dump-dom"]
        started = time.perf_counter()
        done = subprocess.run([*args, copy.resolve().as_uri()], capture_output=True, text=True, timeout=120)
        wall = time.perf_counter() - started
    timing, console = None, []
    for line in done.stderr.splitlines():
        match = _CONSOLE.search(line)
        if not match:
            continue
        message = match["text"]
        if message.startswith(MARK + " "):
            timing = json.loads(message[len(MARK) + 1:])
        else:
            console.append(message)
    return BrowserCheck(load_ms=timing and timing["load"], dom_ready_ms=timing and timing["ready"],
                        runs=timing and timing["runs"], console=console, wall_s=wall)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("page", type=Path)
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the window here")
    parser.add_argument("--open", default="", help="comma-separated run ids to expand (run-1, run-2, ...)")
    parser.add_argument("--alone", action="store_true", help="show only the --open runs (for a screenshot of one)")
    parser.add_argument("--size", default="1400x2000", help="window WIDTHxHEIGHT (default 1400x2000)")
    args = parser.parse_args()
    if not args.page.is_file():
        print(f"error: no such page: {args.page}", file=sys.stderr)
        return EXIT_CONFIG
    width, height = (int(n) for n in args.size.split("x"))
    try:
        result = check_page(args.page, args.screenshot, [r for r in args.open.split(",") if r], (width, height),
                             alone=args.alone)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    size_mb = args.page.stat().st_size / 1e6
    if result.load_ms is None:
        print(f"{args.page} ({size_mb:.2f} MB): the page never finished loading", file=sys.stderr)
        return 1
    print(f"{args.page} ({size_mb:.2f} MB): {counted(result.runs, 'run')}; loaded in {result.load_ms:.0f} ms "
          f"(DOM ready {result.dom_ready_ms:.0f} ms); browser process {result.wall_s:.2f} s")
    if args.screenshot:
        print(f"screenshot: {args.screenshot}")
    for message in result.console:
        print(f"console: {message}", file=sys.stderr)
    return 1 if result.console else 0


if __name__ == "__main__":
    sys.exit(main())
