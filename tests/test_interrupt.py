"""Ctrl-C: the runs that finished are summarised and saved, and no sandbox process is left behind."""

import json
import signal
import time

from helpers import deno_children, start_script, summary_row


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_ctrl_c_keeps_finished_runs(tmp_path):
    proc = start_script(["--model", "oracle", "--runs", "50", "--approaches", "rlm", "--output", "r.json"], tmp_path)
    seen = ""
    deadline = time.monotonic() + 120
    while "[RLM Direct 2/50]" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()
    sandboxes: list[int] = []
    while not sandboxes and time.monotonic() < deadline:  # interrupt while a sandbox is running
        sandboxes = deno_children(proc.pid)
    assert sandboxes, "no sandbox process was seen"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    data = json.loads((tmp_path / "r.json").read_text())
    finished = len(data["records"])
    assert 2 <= finished < 50 and data["state"] == "interrupted"
    assert all(r["ok"] for r in data["records"])
    assert f"Interrupted (Ctrl-C): summary of the {finished} runs that finished." in out
    assert summary_row(out, "Completed without error")[0].startswith(f"{finished} / {finished} [")
    assert "Traceback" not in err
    time.sleep(0.5)
    assert [pid for pid in sandboxes if _alive(pid)] == []
