"""The HTML report in a real browser: headless Chromium opens an oracle run's page without a console error.

Skipped where no Chromium is installed (CI's clean machine); on Debian `apt-get install -y chromium`
brings it, and `uv run pytest tests/test_html_browser.py` runs just this check.
"""

import pytest
from helpers import run_script

from rlmbench.report.browser_check import check_page, find_browser

pytestmark = pytest.mark.skipif(find_browser() is None, reason="no Chromium on this machine (apt-get install chromium)")


def test_chromium_opens_the_page_without_console_errors(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--approaches", "rlm,react_v2", "--output", "r.json"],
                        tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    shot = tmp_path / "shot.png"
    check = check_page(tmp_path / "r.html", shot, open_runs=["run-1"])
    assert check.console == []
    assert check.runs == 2 and check.load_ms is not None
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_script_error_in_the_page_is_caught(tmp_path):
    """The check itself: a page whose script throws fails it (so a pass above means something)."""
    page = tmp_path / "broken.html"
    page.write_text("<!DOCTYPE html><html><body><p>x</p><script>undefinedFunction();</script></body></html>")
    check = check_page(page)
    assert any("undefinedFunction" in message for message in check.console)
