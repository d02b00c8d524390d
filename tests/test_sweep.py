"""The scale sweep: generated cases of any task, measured growth exponents, charts, and the RLM at 2,225 checks."""

import json
import math

import dspy
import pytest
from helpers import record_checks, run_script

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.models import build_lm
from rlmbench.lm.settings import ModelSettings
from rlmbench.report.growth import fit_exponent
from rlmbench.run.runner import run_once
from rlmbench.tasks.sizes import Size, parse_sizes
from rlmbench.tasks.synthetic import checks_at, sweep_sizes, synthetic_task
from rlmbench.tasks.task import required_checks
from rlmbench.tasks.task_file import builtin_names, load_task

DRUGS = load_task("drugs")


def test_generated_tasks_are_fixed_by_their_seed_and_sized_as_asked():
    a, b = synthetic_task(DRUGS, Size((16, 4)), seed=3), synthetic_task(DRUGS, Size((16, 4)), seed=3)
    assert a == b and a != synthetic_task(DRUGS, Size((16, 4)), seed=4)
    assert len(a.data.items["medications"]) == 16 and len(a.data.items["conditions"]) == 4
    assert a.data.items["medications"][0] == "drug_01" and a.schema == DRUGS.schema
    assert len(required_checks(a.schema, a.full_case().inputs)) == checks_at(DRUGS.schema, Size((16, 4))) == 120 + 64
    found = a.data.findings["check_drug_interaction"]
    assert found and all(e.severity in ("major", "moderate", "minor") for e in found.values())
    assert all(e.severity == "major" for e in a.data.findings["check_contraindication"].values())


def test_any_task_generates_from_its_own_schema():
    security = load_task("security")
    generated = synthetic_task(security, Size((20, 10)))
    assert generated.data.items["endpoints"][-1] == "endpoint_20"
    assert checks_at(security.schema, Size((20, 10))) == 200 + 20 + 20
    assert set(generated.data.values) == set()  # security has no attribute values, only findings


def test_fit_recovers_a_known_exponent_and_refuses_one_point():
    assert math.isclose(fit_exponent([(n, 7 * n ** 2) for n in (10, 40, 160)]), 2.0)
    assert math.isclose(fit_exponent([(n, 500.0) for n in (10, 40)]), 0.0, abs_tol=1e-9)
    assert fit_exponent([(10, 100.0)]) is None


def test_bad_sizes_are_refused_with_a_reason():
    names = ["medications", "conditions"]
    assert parse_sizes("4x2, 8x3", names) == (Size((4, 2)), Size((8, 3)))
    for text, reason in (("4-2", "MEDICATIONSxCONDITIONS"), ("0x2", "medications must be 1 to 200"),
                         ("4x2x2", "names 3 lists; this task has 2"), ("", "no sizes")):
        try:
            parse_sizes(text, names)
        except ValueError as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(text)
    assert [str(s) for s in sweep_sizes(DRUGS.schema, None)] == ["4x2", "8x3", "12x4", "16x6", "32x8", "50x20"]


def test_the_ten_thousand_check_point_is_opt_in_on_any_task():
    for name in builtin_names():
        task = load_task(name)
        sizes = sweep_sizes(task.schema, "default,10k")
        assert sizes[:-1] == sweep_sizes(task.schema, None)  # the defaults, then one more point
        assert 10_000 <= checks_at(task.schema, sizes[-1]) < 10_500, name
        for size in sizes[:-1]:  # the count agrees with the checks a generated case really requires
            generated = synthetic_task(task, size)
            assert checks_at(task.schema, size) == len(required_checks(task.schema, generated.full_case().inputs))
    assert [str(s) for s in sweep_sizes(DRUGS.schema, "4x2,10k")] == ["4x2", "107x43"]
    with pytest.raises(ValueError, match="more than 200 items in a list of task drugs"):
        sweep_sizes(DRUGS.schema, "1000k")


def test_sweep_of_a_non_drug_task_reports_growth_skips_react_above_its_limit_and_draws_a_chart(tmp_path):
    result = run_script(["--task", "test_matrix", "--model", "oracle", "--runs", "1", "--scale", "3x2,5x4",
                         "--react-limit", "10", "--approaches", "react,rlm,react_v2", "--plot", "--output", "s.json"],
                        tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["task"]["name"] == "test_matrix"
    assert data["sweep"]["sizes"] == ["3x2", "5x4"] and data["sweep"]["checks"] == [6, 20]
    ran = [(r["case"], r["approach"]) for r in data["records"]]
    assert ran == [("3x2", "react"), ("3x2", "rlm"), ("3x2", "react_v2"), ("5x4", "rlm"), ("5x4", "react_v2")]
    for r in data["records"]:
        assert r["ok"] and record_checks(r, "run_compatibility_test")[0] == r["coverage"]["tools"][0]["required"]
    fits = data["sweep"]["fits"]["oracle"]
    assert fits["react"]["exponent"] is None and fits["rlm"]["sizes"] == 2
    assert isinstance(fits["rlm"]["exponent"], float)
    assert data["sweep"]["skipped"] == {"react": ["5x4"]}
    assert "ReAct skipped at 5x4: more than --react-limit 10 checks" in result.stdout
    assert f"k = {fits['rlm']['exponent']:.2f} (2 sizes, 6-20 checks)" in result.stdout
    assert "not any model's quality" in result.stdout and "invented features" in result.stdout
    # Where the RLM's time went, per size: measured parts, each inside the run's wall time.
    assert "Where the time goes" in result.stdout
    for r in data["records"]:
        split = r["time_split"]
        assert 0 < split["model_s"] < r["wall_time_s"]
        if r["approach"] == "rlm":
            assert split["bridged_calls"] == r["coverage"]["tool_calls"]  # every tool call crossed the bridge
            assert 0 < split["tools_in_cells_s"] == split["tools_s"] < split["tool_path_s"] < split["cells_s"]
            assert split["model_s"] + split["cells_s"] < r["wall_time_s"]
            assert r["sandbox_boot_kind"] == "snapshot"
        else:
            assert split["cells_s"] is None and split["tools_in_cells_s"] == 0
    png = (tmp_path / "s.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_rlm_covers_all_2225_checks_of_a_50_by_20_drug_case():
    task = synthetic_task(DRUGS, Size((50, 20)))
    lm = build_lm(ModelSettings(model="oracle"), task.schema)
    with dspy.context(lm=lm, track_usage=True):
        record, _ = run_once(task, "rlm", 1, lm, ApproachConfig())
    assert record.ok, record.failure
    assert record.coverage.of("check_drug_interaction").covered == 1225
    assert record.coverage.of("check_contraindication").covered == 1000
    assert record.lm_calls == 2
    interactions = record.answer_score.of("check_drug_interaction")
    assert interactions.recall == 1.0 and interactions.claimed_clear_never_checked == 0
