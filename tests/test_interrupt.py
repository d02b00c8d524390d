"""Ctrl-C: the runs that finished are summarised and saved, and no sandbox process is left behind."""

import json
import os
import shutil
import signal
import subprocess
import time

from helpers import ROOT, clean_env, deno_children, start_script, summary_row


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


def _until_two_runs(proc) -> None:
    seen, deadline = "", time.monotonic() + 120
    while "[RLM Direct 2/30]" not in seen and time.monotonic() < deadline:
        seen += proc.stderr.readline()


def _finished_cleanly(out: str, err: str, returncode: int, folder) -> None:
    """Exit 130, the summary printed, the page written, no traceback: a second Ctrl-C cut nothing."""
    assert returncode == 130, err[-2000:]
    assert "Interrupted (Ctrl-C): summary of the" in out and "Complete runs" in out
    assert (folder / "r.html").stat().st_size > 10_000
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert json.loads((folder / "r.json").read_text())["state"] == "interrupted"
    assert json.loads((folder / "r.jsonl").read_text().splitlines()[-1])["state"] == "interrupted"
    assert "Continue with: " in out and "rlmbench run --resume r.jsonl" in out


def test_ctrl_c_twice_still_writes_the_summary_and_the_page(tmp_path):
    proc = start_script(["--model", "oracle", "--runs", "30", "--approaches", "rlm", "--output", "r.json"], tmp_path)
    _until_two_runs(proc)
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)  # as `uv run` forwards its own SIGINT, or a user presses Ctrl-C again
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    _finished_cleanly(out, err, proc.returncode, tmp_path)


def test_interrupting_the_whole_process_group_of_uv_run_writes_the_summary_and_the_page(tmp_path):
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "uv is how the README starts the benchmark; the tests run under it"
    proc = subprocess.Popen([uv, "run", "--project", str(ROOT), "--frozen", "rlmbench", "run", "--model", "oracle",
                             "--runs", "30", "--approaches", "rlm", "--output", "r.json"],
                            cwd=tmp_path, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    _until_two_runs(proc)
    os.killpg(proc.pid, signal.SIGINT)  # as a script or CI interrupts: uv and the benchmark both get it
    out, err = proc.communicate(timeout=60)
    _finished_cleanly(out, err, proc.returncode, tmp_path)
