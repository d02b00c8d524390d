"""Several models in one invocation: the models file, the comparison, cost, side-by-side runs, resume."""

import json
import signal
import threading
import time

import pytest
from helpers import run_script, start_script, summary_row
from html_page import read_page, text_tables

from rlmbench.lm.models_file import ModelsFileError, model_list
from rlmbench.lm.oracle.server import OpenAICompatibleServer
from rlmbench.lm.settings import ModelSettings


def _file(tmp_path, text):
    path = tmp_path / "models.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("[[models]\nlabel = 'x'", "models.toml: not valid TOML"),
    ("title = 'no models'", "models.toml: needs at least one [[models]] entry"),
    ("[[models]]\nlabel = 'a'", "models.toml: models[0] (a): model: missing"),
    ("[[models]]\nmodel = 'openai/a'\n[[models]]\nmodel = 'openai/a'", "duplicate model label 'openai/a'"),
    ("[[models]]\nmodel = 'openai/a'\napi_key = 'sk-live-123'",
     "models.toml: models[0] (openai/a): api_key: never write a key into the file"),
    ("[[models]]\nmodel = 'openai/a'\napi_key_env = 'gsk_8f7a6s5d4f3g'", None),  # a valid variable name, oddly
    ("[[models]]\nmodel = 'openai/a'\napi_key_env = 'sk-live 123'", "api_key_env: sk-l... is not a variable name"),
    ("[[models]]\nmodel = 'openai/a'\nprice_in = -1\nprice_out = 1", "price_in: must be a number of dollars"),
    ("[[models]]\nmodel = 'openai/a'\nprice_in = 1", "give both price_in and price_out, or neither"),
    ("[[models]]\nmodel = 'openai/a'\ncolour = 'red'", "colour: unknown field"),
    ("[[models]]\nmodel = 'openai/a'\nconcurrency = 0", "concurrency: must be a whole number of at least 1"),
])
def test_a_bad_models_file_names_the_file_and_the_entry(tmp_path, text, message):
    path = _file(tmp_path, text)
    if message is None:
        assert model_list([], path, ModelSettings())[0].api_key_env == "gsk_8f7a6s5d4f3g"
        return
    with pytest.raises(ModelsFileError) as caught:
        model_list([], path, ModelSettings())
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_the_command_line_refuses_a_bad_models_file_in_one_line(tmp_path):
    _file(tmp_path, "[[models]]\nmodel = 'openai/a'\napi_key = 'sk-live-123'")
    result = run_script(["--models", "models.toml"], tmp_path, timeout=60)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "never write a key into the file" in result.stderr and "sk-live" not in result.stderr


def test_every_model_whose_key_is_missing_is_named_before_any_run(tmp_path):
    _file(tmp_path, "[[models]]\nlabel = 'mine'\nmodel = 'openai/x'\napi_key_env = 'MY_TEST_KEY_NOT_SET'")
    result = run_script(["--model", "groq/openai/gpt-oss-20b", "--model", "oracle", "--models", "models.toml"],
                        tmp_path, timeout=60)
    assert result.returncode == 2, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "groq/openai/gpt-oss-20b needs GROQ_API_KEY" in line and "mine needs MY_TEST_KEY_NOT_SET" in line
    assert "oracle" not in line.split(":", 1)[1].split(".")[0] and not (tmp_path / "results").exists()


def test_two_models_in_one_invocation_are_compared_priced_and_resumed(tmp_path):
    requests, gate = [], threading.Event()

    def held(body, system, user):
        """The local model's first run answers; its later requests wait until the test has pressed Ctrl-C, so the
        interrupt lands mid-way whatever the machine's speed."""
        requests.append(1)
        if len(requests) > 2:
            gate.wait(120)
        return None

    with OpenAICompatibleServer(held) as server:
        args = ["--model", "oracle", "--model", "openai/local", "--api-base", server.url, "--price-in", "0.15",
                "--price-out", "0.6", "--runs", "2", "--approaches", "rlm,react_v2", "--output", "m.json"]
        proc = start_script(args, tmp_path)
        seen, deadline = "", time.monotonic() + 120
        while seen.count("] ok") < 3 and time.monotonic() < deadline:
            seen += proc.stderr.readline()
        proc.send_signal(signal.SIGINT)  # a kill mid-way: the finished runs are kept
        proc.communicate(timeout=60)
        gate.set()
        assert proc.returncode == 130
        partial = json.loads((tmp_path / "m.json").read_text())["records"]
        assert 3 <= len(partial) < 8

        resumed = run_script(["--resume", "m.jsonl", "--plot"], tmp_path)  # alone: the log's models and server
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    data = json.loads((tmp_path / "m.json").read_text())
    runs = sorted((r["model"], r["approach"], r["run"]) for r in data["records"])
    assert runs == sorted((m, a, n) for m in ("oracle", "openai/local") for a in ("rlm", "react_v2") for n in (1, 2))
    assert all(r["ok"] and r["coverage"]["tools"][0]["covered"] == 21 for r in data["records"])
    out = resumed.stdout
    assert "Model: oracle   runs per approach: 2" in out and "Model: openai/local   runs per approach: 2" in out
    assert "Comparison across models" in out
    local = next(m for m in data["models"] if m["label"] == "openai/local")
    assert local["price"] == {"input_per_million": 0.15, "output_per_million": 0.6, "source": "models file or flags"}
    oracle_cost = summary_row(out.split("Model: openai/local")[0], "Cost per run (USD), 95% interval")
    assert oracle_cost == ["n/a (no price)", "n/a (no price)"]
    local_records = [r for r in data["records"] if r["model"] == "openai/local"]
    for r in local_records:
        assert r["cost_usd"] == pytest.approx((r["prompt_tokens"] * 0.15 + r["completion_tokens"] * 0.6) / 1e6)
    total = sum(r["cost_usd"] for r in local_records)
    assert f"Cost of this invocation: ${total:.4f}" in out and "no price for oracle" in out
    comparison = out.split("Comparison across models")[1]
    assert "openai/local" in comparison and "oracle" in comparison and "2 / 2 [34%, 100%]" in comparison
    png = (tmp_path / "m.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Resumed 1 time" in out
    # The page of the resumed comparison: every run of both invocations with its trace, the printed tables.
    page = read_page((tmp_path / "m.html").read_text())
    assert sorted((r["model"], r["approach"]) for r in page.runs) == sorted((m, a) for m, a, _ in runs)
    assert page.summary_tables == text_tables(out) and len(page.summary_tables) == 7  # 2 x (table, diff, claims), comparison
    assert "No trace line for this run" not in page.text
    assert page.text.count("Tool ledger: 35 calls") == 8  # every run's ledger, found by its own key


def test_runs_of_different_models_go_side_by_side(tmp_path):
    def slow(body, system, user):
        time.sleep(0.05)
        return None

    with OpenAICompatibleServer(slow) as first, OpenAICompatibleServer(slow) as second:
        _file(tmp_path, f"[[models]]\nlabel = 'one'\nmodel = 'openai/one'\napi_base = '{first.url}'\n"
                        f"[[models]]\nlabel = 'two'\nmodel = 'openai/two'\napi_base = '{second.url}'\n")
        result = run_script(["--models", "models.toml", "--runs", "1", "--approaches", "react", "--output", "t.json"],
                            tmp_path)
        assert result.returncode == 0, result.stderr[-2000:]
        a, b = first.served_at, second.served_at
    # Each model's run made 37 requests; the two servers were busy at the same time, not one after the other.
    assert len(a) == len(b) == 37
    assert a[0][0] < b[-1][0] and b[0][0] < a[-1][0]
    overlap = min(a[-1][1], b[-1][1]) - max(a[0][0], b[0][0])
    assert overlap > 0.5 * min(a[-1][1] - a[0][0], b[-1][1] - b[0][0])
    assert "The 2 models ran side by side" in result.stdout


def test_a_model_whose_key_is_refused_fails_its_runs_and_the_other_model_goes_on(tmp_path):
    from rlmbench.lm.oracle.server import always

    with OpenAICompatibleServer(faults=always("unauthorized")) as refused:
        result = run_script(["--model", "oracle", "--model", "openai/refused", "--api-base", refused.url,
                             "--retries", "0", "--runs", "1", "--approaches", "rlm", "--output", "k.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    by_model = {r["model"]: r for r in json.loads((tmp_path / "k.json").read_text())["records"]}
    assert by_model["openai/refused"]["failure"]["category"] == "auth_error"
    assert by_model["oracle"]["ok"] is True
    refused_table = result.stdout.split("Model: openai/refused")[1]
    assert summary_row(refused_table, "Failures by category") == ["auth_error 1"]


def test_the_sweep_splits_by_model(tmp_path):
    _file(tmp_path, "[[models]]\nlabel = 'first'\nmodel = 'oracle'\n[[models]]\nlabel = 'second'\nmodel = 'oracle'\n")
    result = run_script(["--models", "models.toml", "--runs", "1", "--scale", "3x1,4x2", "--approaches", "rlm",
                         "--plot", "--output", "s.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "s.json").read_text())
    assert sorted((r["case"], r["model"]) for r in data["records"]) == [
        ("3x1", "first"), ("3x1", "second"), ("4x2", "first"), ("4x2", "second")]
    assert set(data["sweep"]["fits"]) == {"first", "second"}
    assert "first: RLM Direct" in result.stdout and "second: RLM Direct" in result.stdout
    sweep_rows = result.stdout.split("Where the time goes")[0]  # the sweep table, not the time split below it
    rows = [line.split() for line in sweep_rows.splitlines() if line.startswith(("3x1", "4x2"))]
    assert [(row[0], row[1]) for row in rows] == [("3x1", "first"), ("3x1", "second"), ("4x2", "first"),
                                                  ("4x2", "second")]
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"
    page = read_page((tmp_path / "s.html").read_text())
    assert [(r["case"], r["model"]) for r in page.runs] == [(r["case"], r["model"]) for r in data["records"]]
    assert page.summary_tables == text_tables(result.stdout)
    assert [len(cells) for cells in page.grid_cells] == [3 + 3, 3 + 3, 6 + 8, 6 + 8]  # pairs + cross at 3x1, 4x2
