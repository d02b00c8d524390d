"""Nothing finished is lost: the run log is appended as runs finish, and --resume continues it."""

import json

from helpers import run_script, summary_row

ARGS = ["--model", "oracle", "--approaches", "react"]


def _log_records(path):
    return [json.loads(line) for line in path.read_text().splitlines() if '"kind": "record"' in line]


def test_resume_skips_recorded_runs_and_appends_new_ones(tmp_path):
    first = run_script([*ARGS, "--runs", "1", "--output", "r.json"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (run1,) = _log_records(tmp_path / "r.jsonl")
    with (tmp_path / "r.jsonl").open("a") as log:
        log.write('{"kind": "record", "approach": "react", "ru')  # a kill in the middle of a write

    resumed = run_script([*ARGS, "--runs", "2", "--resume", "r.jsonl"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "1 run already recorded, skipped" in resumed.stderr
    assert "[ReAct 1/2]" not in resumed.stderr and "[ReAct 2/2] ok" in resumed.stderr
    records = json.loads((tmp_path / "r.json").read_text())["records"]
    assert [r["run"] for r in records] == [1, 2]
    assert records[0]["wall_time_s"] == run1["wall_time_s"]  # the earlier run is kept, not re-run
    assert summary_row(resumed.stdout, "Completed without error")[0] == "2 / 2 [34%, 100%]"
    assert "Resumed 1 time" in resumed.stdout

    again = run_script([*ARGS, "--runs", "3", "--resume", "r.jsonl"], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "Resumed 2 times" in again.stdout and summary_row(again.stdout, "Completed without error")[0] == "3 / 3 [44%, 100%]"


def test_resume_refuses_different_settings_in_one_line(tmp_path):
    assert run_script([*ARGS, "--runs", "1", "--output", "r.json"], tmp_path).returncode == 0
    result = run_script([*ARGS, "--runs", "2", "--react-max-iters", "12", "--resume", "r.json"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: cannot resume: settings.react_max_iters was 40 in that file and is 12 now; "
        "use the same settings, or start a new results file"]
    prose = run_script([*ARGS, "--runs", "2", "--answer", "prose", "--resume", "r.json"], tmp_path)
    assert prose.returncode == 2 and "settings.answer_form was 'structured' in that file and is 'prose' now" \
        in prose.stderr


def test_resume_of_a_missing_file_is_one_line(tmp_path):
    result = run_script([*ARGS, "--resume", "nope.jsonl"], tmp_path, timeout=60)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "cannot read" in result.stderr


def test_a_results_name_with_a_dot_resumes_from_the_path_it_printed(tmp_path):
    """Model names hold dots (qwen2.5, gpt-4.1): the files are named by cutting their own suffix, never
    `with_suffix`, so the log path the run prints is the one --resume finds."""
    from rlmbench.results.files import ResultsFiles

    for given in ("r_qwen2.5.jsonl", "r_qwen2.5.json", "r_qwen2.5.traces.jsonl", "r_qwen2.5.html"):
        files = ResultsFiles.for_resume(tmp_path / given)
        assert (files.json_path.name, files.log_path.name) == ("r_qwen2.5.json", "r_qwen2.5.jsonl")
    first = run_script(["--model", "oracle", "--approaches", "rlm", "--runs", "1", "--output", "r_qwen2.5.json"],
                       tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    printed = next(line.split(maxsplit=2)[2] for line in first.stdout.splitlines() if line.startswith("Run log:"))
    assert printed == "r_qwen2.5.jsonl"
    again = run_script(["--runs", "2", "--resume", printed], tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert len(_log_records(tmp_path / "r_qwen2.5.jsonl")) == 2 and "Resumed 1 time;" in again.stdout
