"""Task files: every built-in loads, the documented example runs, and every bad file is one clear line."""

import re
import tomllib

import pytest
from helpers import ROOT, run_script

from rlmbench.tasks.task_file import TaskFileError, builtin_names, load_task, parse_task

BUILT_IN = ["compliance", "drugs", "drugs_realistic", "portfolio", "security", "supply_chain", "test_matrix"]


def readme_example() -> str:
    """The task file docs/task-files.md shows a user, exactly as printed there."""
    readme = (ROOT / "docs" / "task-files.md").read_text()
    block = readme.split("<!-- task-file-example -->", 1)[1]
    return re.search(r"```toml\n(.*?)```", block, re.DOTALL).group(1)


def test_every_built_in_task_loads_with_its_documented_size():
    assert builtin_names() == BUILT_IN
    sizes = {name: load_task(name).describe() for name in BUILT_IN}
    assert sizes["drugs"]["lists"] == {"medications": 7, "conditions": 2} and sizes["drugs"]["required_checks"] == 35
    assert sizes["compliance"]["lists"] == {"systems": 50, "policies": 20}
    assert sizes["compliance"]["required_checks"] == 1000 + 50  # every system x policy, plus data residency
    assert len({s["fingerprint"] for s in sizes.values()}) == len(BUILT_IN)


def test_built_in_ground_truth_is_sparse_and_spans_the_scale():
    for name in BUILT_IN:
        task = load_task(name)
        case = task.full_case().inputs
        from rlmbench.tasks.task import required_checks

        checks = required_checks(task.schema, case)
        findings = [task.finding(c.tool, c.key) for c in checks]
        share = sum(f is not None for f in findings) / len(checks)
        assert 0.03 <= share <= 0.4, (name, share)
        assert len({f.severity for f in findings if f}) >= 2, name


def _example() -> dict:
    return tomllib.loads(readme_example())


def _error(raw: dict) -> str:
    with pytest.raises(TaskFileError) as caught:
        parse_task(raw, "mine.toml")
    return str(caught.value)


def test_the_readme_example_is_a_valid_task():
    task = parse_task(_example(), "mine.toml")
    assert task.describe()["required_checks"] == 20
    assert task.schema.tool("check_allergen").found.startswith("FOUND ({severity}) allergen for {dish}")


def _set(path: str, value):
    def change(raw: dict) -> dict:
        *parents, last = path.split(".")
        node = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[int(last) if last.isdigit() else last]
        else:
            node[int(last) if last.isdigit() else last] = value
        return raw
    return change


_DELETE = object()


@pytest.mark.parametrize("change, message", [
    (_set("instructions", _DELETE), "mine.toml: instructions: missing"),
    (_set("tools.0.kind", "matrix"), "mine.toml: tools[0].kind: unknown tool kind 'matrix'; one of pair, cross, attribute"),
    (_set("tools.0.findings.0.items", ["pad_thai", "walnut"]),
     "mine.toml: tools[0].findings[0].items[1]: 'walnut' is not in list allergens"),
    (_set("lists.0.items", ["pad_thai", "pad_thai"]), "mine.toml: lists[0].items: duplicate name 'pad_thai'"),
    (_set("lists.0.items", ["Pad Thai", "pad-thai", "tiramisu"]),  # two items; the findings' 'pad_thai' names neither
     "mine.toml: tools[0].findings[0].items[0]: 'pad_thai' is not in list dishes"),
    (_set("tools.1.name", "check_allergen"), "mine.toml: tools[1].name: duplicate tool name 'check_allergen'"),
    (_set("tools.0.findings.0.severity", "fatal"),
     "mine.toml: tools[0].findings[0].severity: severity 'fatal' is not in the scale declared, trace"),
    (_set("tools.0.colour", "red"), "mine.toml: tools[0].colour: unknown field"),
    (_set("risk.by_severity", {"declared": "warn"}), "mine.toml: risk.by_severity.trace: missing"),
    (_set("risk.none", "fine"), "mine.toml: risk.none: 'fine' is not one of the levels clear, label, warn"),
    (_set("tools.0.found", "{dish}: {details}"), "mine.toml: tools[0].found: must contain {allergen}"),
    (_set("tools.0.clear", "{dish} {allergen} {colour}"), "mine.toml: tools[0].clear: unknown placeholder {colour}"),
    (_set("tools.0.lists", ["dishes", "dishes"]), "mine.toml: tools[0].lists: a cross tool needs two different lists"),
    (_set("tools.0.args", ["dish"]), "mine.toml: tools[0].args: a cross tool takes 2 arguments, got 1"),
    (_set("tools.0.lists", ["dishes", "drinks"]), "mine.toml: tools[0].lists: no list named 'drinks'"),
    (_set("tools.1.name", "dishes"), "mine.toml: tools.dishes: 'dishes' is already used by lists.dishes"),
    (_set("tools.0.answer_field", "overall_risk"), "'overall_risk' is a name DSPy or the benchmark uses itself"),
    (_set("tools.1.findings", [{"items": ["tiramisu"], "severity": "trace", "details": "x"}]),
     "mine.toml: tools[1].required: an attribute tool with findings must set required = true"),
    (_set("tools.0.findings.1.items", ["pad_thai", "peanut"]), "duplicate finding for pad_thai, peanut"),
    (_set("tools.1.clear", "No allergen recorded for {dish} and {dish}."), None),
    (_set("lists.0.name", "class"), "mine.toml: lists[0].name: 'class' is not a Python identifier"),
    (_set("tools.0.latency_ms", -5), "mine.toml: tools[0].latency_ms: must be a number >= 0"),
    (_set("behaviour", {"latency_ms": "fast"}), "mine.toml: behaviour.latency_ms: must be a number"),
    (_set("behaviour", {"latency_ms": 20, "latency_jitter_ms": 30}),
     "mine.toml: behaviour.latency_jitter_ms: 30 is more than the latency (20 ms): a call cannot take less than 0 ms"),
    (_set("tools.0.latency_jitter_ms", 5), "mine.toml: tools[0].latency_jitter_ms: 5 is more than the latency (0 ms)"),
    (_set("behaviour", {"latency_ms": 20, "latency_jitter_ms": 10}), None),
    (_set("tools.0.transient_failure_rate", 1.0), "mine.toml: tools[0].transient_failure_rate: must be a number < 1"),
    (_set("behaviour", {"transient_failure_rate": -0.1}), "behaviour.transient_failure_rate: must be a number >= 0"),
    (_set("behaviour", {"transient_failure_rate": 0.1}), None),
    (_set("tools.0.returns", "xml"), "mine.toml: tools[0].returns: 'xml' is not an answer form; one of text, json"),
    (_set("tools.0.returns", "json"), None),
])
def test_a_bad_task_file_names_the_field_and_the_problem(change, message):
    raw = change(_example())
    if message is None:  # a legal edit: the file still loads
        parse_task(raw, "mine.toml")
        return
    assert message in _error(raw)


def test_a_tool_takes_its_own_latency_else_the_files_default():
    raw = _example()
    raw["behaviour"] = {"latency_ms": 80, "latency_jitter_ms": 40}
    raw["tools"][1]["latency_ms"] = 5
    raw["tools"][1]["latency_jitter_ms"] = 0
    first, second = parse_task(raw, "mine.toml").schema.tools[:2]
    assert (first.latency.mean_ms, first.latency.jitter_ms) == (80, 40)
    assert (second.latency.mean_ms, second.latency.jitter_ms) == (5, 0)
    # A task without latency keeps the fingerprint it had before latency existed; one with it does not.
    assert parse_task(_example(), "mine.toml").fingerprint() != parse_task(raw, "mine.toml").fingerprint()


def test_two_tools_that_answer_alike_are_refused():
    raw = _example()
    raw["tools"][1]["clear"] = "No allergen recorded for {dish}."
    raw["tools"].append({**raw["tools"][1], "name": "get_menu_card"})
    assert "mine.toml: tools[2].clear: the same text as tools[1].clear" in _error(raw)


def test_a_file_that_is_not_toml_or_not_there_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "broken.toml").write_text("name = [unclosed")
    for name, expected in (("broken.toml", "broken.toml: not valid TOML"),
                           ("missing.toml", "missing.toml: cannot read it: No such file or directory")):
        with pytest.raises(TaskFileError) as caught:
            load_task(name)
        assert str(caught.value).startswith(expected)


def test_the_command_line_refuses_a_bad_task_in_one_line(tmp_path):
    (tmp_path / "bad.toml").write_text(readme_example().replace('kind = "cross"', 'kind = "grid"'))
    for args, expected in (
        (["--task", "nope"], "error: nope: no such task; built-in tasks: compliance, drugs, drugs_realistic, "
                             "portfolio, security, supply_chain, test_matrix, or give the path of a .toml task file"),
        (["--task", "bad.toml"], "error: bad.toml: tools[0].kind: unknown tool kind 'grid'; one of pair, cross, "
                                 "attribute, follow_up"),
        (["--task", "drugs", "--scale", "4x2x1"], "error: --scale: size '4x2x1' names 3 lists; this task has 2"),
    ):
        result = run_script(["--model", "oracle", *args], tmp_path, timeout=60)
        assert result.returncode == 2, (args, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(expected), (args, result.stderr)
        assert "Traceback" not in result.stderr and result.stdout == ""


def test_list_tasks_shows_every_built_in_with_its_checks(tmp_path):
    result = run_script(["--list-tasks"], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert re.search(r"^compliance +50 systems x 20 policies +1,050 \(1,000 \+ 50\) .* 2 get_remediation$",
                     result.stdout, re.MULTILINE)
    assert re.search(r"^drugs_realistic +7 medications x 2 conditions +35 \(21 \+ 14\) .* 4 get_management$",
                     result.stdout, re.MULTILINE)


def _realistic() -> dict:
    from rlmbench.tasks.task_file import TASKS_DIR

    return tomllib.loads((TASKS_DIR / "drugs_realistic.toml").read_text())


def _management(raw: dict) -> dict:
    return next(t for t in raw["tools"] if t["name"] == "get_management")


@pytest.mark.parametrize("change, message", [
    (lambda t: t.update(after="check_drug_class"), "tools[1].after: 'check_drug_class' is not a tool with findings "
                                                   "declared before this one; such tools: check_drug_interaction"),
    (lambda t: t.update(when=["severe"]), "tools[1].when: severity 'severe' is not in the scale major, moderate, minor"),
    (lambda t: t.update(answers=t["answers"][1:]),
     "tools[1].answers: no answer for the required follow-up of amiodarone, warfarin"),
    (lambda t: t["answers"].append({"items": ["metformin", "lisinopril"], "value": "X"}),
     "tools[1].answers[4].items: lisinopril, metformin is not a major finding of check_drug_interaction"),
    (lambda t: t["answers"][0].update(value='say "hi"'), "tools[1].answers[0].value: must be one line without quotes"),
    (lambda t: t.update(args=["drug"]), "tools[1].args: a follow-up of check_drug_interaction takes 2 arguments, got 1"),
    (lambda t: t.pop("after"), "tools[1].after: missing"),
    (lambda t: t.update(value="Management: {value}"), "tools[1].value: must contain {drug_a}"),
    (lambda t: t.update(findings=[]), "tools[1].findings: a follow-up tool has no such field"),
])
def test_a_bad_follow_up_names_the_field_and_the_problem(change, message):
    raw = _realistic()
    change(_management(raw))
    assert message in _error(raw)


def test_after_and_when_belong_to_follow_ups_only():
    raw = _realistic()
    raw["tools"][0]["when"] = ["major"]
    assert "tools[0].when: only a follow_up tool has this field" in _error(raw)


def test_a_follow_up_is_required_by_each_finding_at_its_severities_and_a_sweep_draws_new_ones():
    from rlmbench.tasks.sizes import Size
    from rlmbench.tasks.synthetic import synthetic_task
    from rlmbench.tasks.task import required_follow_ups

    task = load_task("drugs_realistic")
    due = required_follow_ups(task, task.full_case())
    majors = [k for k, e in task.data.findings["check_drug_interaction"].items() if e.severity == "major"]
    assert sorted(c.key for c in due) == sorted(majors) and {c.tool for c in due} == {"get_management"}
    big = synthetic_task(task, Size((16, 6)), seed=1)
    generated = required_follow_ups(big, big.full_case())
    assert generated and all(big.data.follow_ups["get_management"][c.key] in
                             set(task.data.follow_ups["get_management"].values()) for c in generated)


def test_the_run_help_states_the_built_in_tasks_figures_as_they_are():
    from rlmbench.agents.approach import STEP_HEADROOM
    from rlmbench.cli.run_cmd import build_parser
    from rlmbench.tasks.behaviour import ToolSettings
    from rlmbench.tasks.tools import calls_needed

    text = " ".join(build_parser().format_help().split())
    steps = {name: calls_needed(task, task.full_case(), ToolSettings()) + STEP_HEADROOM
             for name in ("drugs", "drugs_realistic") for task in [load_task(name)]}
    assert f"{steps['drugs']} for drugs, {steps['drugs_realistic']} for drugs_realistic" in text
    realistic = load_task("drugs_realistic").schema.tools[0]
    assert f"drugs_realistic has {realistic.transient_failure_rate:.0%}, the other built-in tasks none" in text
    assert f"drugs_realistic has {realistic.latency.text()}, the other built-in tasks none" in text
    assert all(not t.transient_failure_rate and t.latency.none for name in builtin_names() if name != "drugs_realistic"
               for t in load_task(name).schema.tools)


def test_the_summary_header_counts_the_follow_ups_a_complete_run_makes():
    from helpers import header

    from rlmbench.lm.settings import ModelSettings
    from rlmbench.report.tables import task_line

    meta = header(load_task("drugs_realistic"), ["rlm"], ModelSettings(model="oracle"))
    assert task_line(meta).startswith("Task: drugs_realistic (7 medications x 2 conditions; 35 required checks and "
                                      "4 follow-ups)")


def test_every_arm_gets_the_task_as_text_inputs_and_the_answers_json_schema_dspys_signature_is_built_from():
    from rlmbench.agents.signatures import signatures_for
    from rlmbench.tasks.prompt import task_prompt

    task = load_task("drugs_realistic")
    prompt = task_prompt(task.schema, task.full_case())
    schema = prompt.answer_schema
    signature = signatures_for(task.schema).answer
    assert list(schema["properties"]) == list(signature.output_fields) and schema["required"] == list(schema["properties"])
    assert schema["properties"]["overall_risk"]["enum"] == ["low", "moderate", "high"]
    assert prompt.text.startswith(task.schema.instructions)
    assert '- medications (the patient\'s current medications): ["warfarin", "amiodarone"' in prompt.text
    assert "- management: for each major interaction, the management that get_management gave" in prompt.text
    lookups = parse_task(tomllib.loads("""
name = "lookups"
description = "d"
instructions = "Look up each city."
[[lists]]
name = "cities"
description = "the cities"
items = ["Berlin"]
[[tools]]
name = "get_offset"
kind = "attribute"
lists = ["cities"]
required = true
args = ["city"]
doc = "The offset."
"""), "l.toml")
    assert list(task_prompt(lookups.schema, lookups.full_case()).answer_schema["properties"]) == ["report"]
