"""The scale sweep: generated patients, measured growth exponents, charts, and the RLM at 2,225 checks."""

import json
import math

import dspy

from helpers import run_script
from rlmbench.approaches import ApproachConfig, Case
from rlmbench.models import ModelSettings, build_lm
from rlmbench.runner import run_once
from rlmbench.sweep import fit_exponent
from rlmbench.synthetic import Size, parse_sizes, synthetic_scenario


def test_generated_databases_are_fixed_by_their_seed_and_sized_as_asked():
    a, b = synthetic_scenario(Size(16, 4), seed=3), synthetic_scenario(Size(16, 4), seed=3)
    assert a == b and a != synthetic_scenario(Size(16, 4), seed=4)
    assert len(a.medications) == 16 and len(a.conditions) == 4 and Size(16, 4).checks == 120 + 64
    assert a.interactions and all(i.severity in ("major", "moderate", "minor") for i in a.interactions.values())


def test_fit_recovers_a_known_exponent_and_refuses_one_point():
    assert math.isclose(fit_exponent([(n, 7 * n ** 2) for n in (10, 40, 160)]), 2.0)
    assert math.isclose(fit_exponent([(n, 500.0) for n in (10, 40)]), 0.0, abs_tol=1e-9)
    assert fit_exponent([(10, 100.0)]) is None


def test_bad_sizes_are_refused_with_a_reason():
    assert parse_sizes("4x2, 8x3") == (Size(4, 2), Size(8, 3))
    for text, reason in (("4-2", "DRUGSxCONDITIONS"), ("1x2", "drugs must be 2 to 200"), ("", "no sizes")):
        try:
            parse_sizes(text)
        except ValueError as exc:
            assert reason in str(exc)
        else:
            raise AssertionError(text)


def test_sweep_reports_growth_skips_react_above_its_limit_and_draws_a_chart(tmp_path):
    result = run_script(["--model", "oracle", "--runs", "1", "--scale", "3x1,5x2", "--sweep-react-limit", "10",
                         "--approaches", "react,rlm,react_v2", "--plot", "--output", "s.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "s.json").read_text())
    assert data["sweep"]["sizes"] == ["3x1", "5x2"] and data["sweep"]["checks"] == [6, 20]
    ran = [(r["case"], r["approach"]) for r in data["records"]]
    assert ran == [("3x1", "react"), ("3x1", "rlm"), ("3x1", "react_v2"), ("5x2", "rlm"), ("5x2", "react_v2")]
    assert all(r["ok"] and r["coverage"]["pairs_covered"] == r["coverage"]["pairs_required"] for r in data["records"])
    fits = data["sweep"]["fits"]
    assert fits["react"]["exponent"] is None and fits["rlm"]["sizes"] == 2
    assert isinstance(fits["rlm"]["exponent"], float)
    assert data["sweep"]["skipped"] == {"react": ["5x2"]}
    assert "ReAct skipped at 5x2: more than --sweep-react-limit 10 checks" in result.stdout
    assert f"k = {fits['rlm']['exponent']:.2f} (2 sizes, 6-20 checks)" in result.stdout
    assert "not any model's quality" in result.stdout
    png = (tmp_path / "s.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_rlm_covers_all_2225_checks_of_a_50_by_20_patient():
    scenario = synthetic_scenario(Size(50, 20))
    lm = build_lm(ModelSettings(model="oracle"))
    with dspy.context(lm=lm, track_usage=True):
        record, _ = run_once("rlm", 1, Case(list(scenario.medications), list(scenario.conditions)), lm,
                             ApproachConfig(), scenario)
    assert record.ok, record.failure
    assert (record.coverage["pairs_covered"], record.coverage["conditions_covered"]) == (1225, 1000)
    assert record.lm_calls == 2
    assert record.findings["interaction_recall"] == 1.0 and record.findings["claimed_safe_never_checked"] == 0
