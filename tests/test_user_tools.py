"""A task whose tools are your own Python functions (and the two examples, one of them an MCP server): the ground
truth read from their answers, the oracle playing them as the built-in tasks, every bad input one line."""

import json
import re
import shutil

import pytest
from helpers import (
    GEPA_SCRIPT,
    REPORT_SCRIPT,
    rlm_code_reply,
    run_against_server,
    run_process,
    run_script,
    summary_row,
)
from user_tasks import (
    EVERY_ARM,
    EXAMPLES,
    PAIR_MODULE,
    check_spelled_run,
    covered,
    records,
    servers,
    spelled_task,
    user_task,
)

from rlmbench.tasks.matcher import FindingMatcher
from rlmbench.tasks.task_file import load_task

DRUG_FIGURES = {"react": 37, "rlm": 2, "hybrid": 39, "react_v2": 2}
"""LM calls per run of the built-in drug task under the oracle, in every arm."""


@pytest.fixture(scope="module")
def builtin_drugs(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("builtin")
    result = run_script(["--model", "oracle", "--runs", "1", "--output", "d.json"], cwd)
    assert result.returncode == 0, result.stderr[-2000:]
    return records(cwd / "d.json")


@pytest.mark.parametrize("example", ["drugs_python", "drugs_mcp"])
def test_each_example_gives_the_built_in_drug_figures_with_truth_read_from_its_tools(example, builtin_drugs,
                                                                                    tmp_path):
    result = run_script(["--task", str(EXAMPLES / example / "task.toml"), "--model", "oracle", "--runs", "1",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Ground truth read from the tools: 35 checks, 10 findings" in result.stderr
    data = records(tmp_path / "r.json")
    assert data["task"]["truth"] == "tools" and data["task"]["truth_fingerprint"]
    declared = {t: f for t, f in load_task("drugs").data.findings.items() if f}  # the built-in task's truth
    assert {tool: {tuple(f[:-1]) for f in found} for tool, found in data["task"]["findings"].items()} == {
        tool: {(*key, entry.severity) for key, entry in found.items()} for tool, found in declared.items()}
    by_approach = {r["approach"]: r for r in data["records"]}
    builtin = {r["approach"]: r for r in builtin_drugs["records"]}
    for approach, lm_calls in DRUG_FIGURES.items():
        record = by_approach[approach]
        assert record["ok"] and covered(record) == (35, 35), approach
        assert record["lm_calls"] == lm_calls, approach
        # Truth read by a matcher scores exactly as the same data declared in TOML.
        assert record["answer_score"] == builtin[approach]["answer_score"], approach
    assert summary_row(result.stdout, "Interactions: recall / precision") == ["100% / 100%"] * 4
    assert summary_row(result.stdout, "Overall risk level right") == ["1 / 1"] * 4
    assert ("\nYour tools: check_drug_interaction, check_contraindication answered by your code; ground truth read "
            "from their answers before the runs") in result.stdout
    # The page is rebuilt from the results files alone: no server started, the truth the tools gave kept.
    rebuilt = run_script([str(tmp_path / "r.json"), "--output", str(tmp_path / "again.html")], tmp_path,
                         script=REPORT_SCRIPT)
    assert rebuilt.returncode == 0 and rebuilt.stderr == "", rebuilt.stderr
    assert (tmp_path / "again.html").read_text() == (tmp_path / "r.html").read_text()


@pytest.mark.parametrize("tool, module, expected", [
    ('function = "no_such_module:check_pair"', None, "tools[0].function: cannot import 'no_such_module'"),
    ('function = "pair_tools_a:nope"', PAIR_MODULE, "tools[0].function: 'pair_tools_a' has no attribute 'nope'"),
    ('function = "pair_tools_b:NOT_A_FUNCTION"', PAIR_MODULE, "tools[0].function: pair_tools_b:NOT_A_FUNCTION is "
                                                              "not callable"),
    ('function = "pair_tools_c:check_pair"\nargs = ["x", "y"]', PAIR_MODULE,
     "tools[0].function: takes (a, b), but the task file's args are (x, y)"),
    ('function = "pair_tools_d:check_pair"\nfinding = { pattern = "CLASH (", severity_group = 1 }', PAIR_MODULE,
     "tools[0].finding.pattern: not a regular expression"),
    ('function = "pair_tools_e:check_pair"\nfinding = { pattern = "CLASH", severity_group = 1 }', PAIR_MODULE,
     "tools[0].finding.severity_group: the pattern has 0 group(s), no group 1"),
    ('function = "pair_tools_f:check_pair"\nfinding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = "sev" }',
     PAIR_MODULE, "tools[0].finding.severity_group: the pattern has no group named 'sev'"),
    ('function = "pair_tools_g"', PAIR_MODULE, "tools[0].function: 'pair_tools_g' is not `module:attr`"),
    ("mcp = true", None, "tools[0].mcp: an mcp tool needs a [server] table (command or url)"),
])
def test_a_bad_user_tool_is_one_line_naming_the_file_and_the_field(tool, module, expected, tmp_path):
    if module is not None:
        name = tool.split('"')[1].split(":")[0]
        (tmp_path / f"{name}.py").write_text(module)
    path = user_task(tmp_path, tool + '\ndoc = "Whether two items clash."' if "mcp" in tool else tool)
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {path}: {expected}"), result.stderr
    assert "Traceback" not in result.stderr


def test_a_pair_function_with_three_arguments_does_not_fit_its_kind(tmp_path):
    (tmp_path / "three_args.py").write_text('def check_pair(a, b, c):\n    """Three."""\n    return "fine"\n')
    path = user_task(tmp_path, 'function = "three_args:check_pair"')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {path}: tools[0].function: a pair tool takes 2 arguments, got 3"


def test_a_user_function_that_raises_is_a_tool_error_the_agent_sees_and_the_run_goes_on(tmp_path):
    (tmp_path / "raising_tools.py").write_text(PAIR_MODULE)
    path = user_task(tmp_path, 'function = "raising_tools:check_pair"\n'
                                'finding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = 1 }')
    (tmp_path / "task.toml").write_text((tmp_path / "task.toml").read_text())
    truth = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react_v2",
                        "--output", "ok.json"], tmp_path)
    assert truth.returncode == 0, truth.stderr[-2000:]
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react,react_v2",
                         "--output", "r.json"], tmp_path, PAIR_RAISES="1")
    # The truth pass meets the error first: one line, exit 2, before any run.
    assert result.returncode == 2
    assert "the truth pass called check_pair(beta, gamma), which raised ValueError" in result.stderr
    declared = user_task(tmp_path, 'function = "raising_tools:check_pair"\nfindings = [{ items = ["alpha", '
                                    '"gamma"], severity = "high", details = "clash" }]')
    result = run_script(["--task", declared, "--model", "oracle", "--runs", "1", "--approaches", "react,react_v2",
                         "--output", "r.json", "--retries", "0"], tmp_path, PAIR_RAISES="1")
    assert result.returncode == 0, result.stderr[-2000:]
    traces = [json.loads(line) for line in (tmp_path / "r.traces.jsonl").read_text().splitlines()]
    for trace in traces:
        outcomes = {tuple(sorted(c["args"].values())): c["outcome"] for c in trace["tool_calls"]}
        assert outcomes[("beta", "gamma")] == "tool_error" and outcomes[("alpha", "beta")] == "answered"
    recorded = records(tmp_path / "r.json")["records"]
    assert all(r["ok"] and covered(r)[0] == 2 for r in recorded)  # the failed check is not counted
    assert summary_row(result.stdout, "Calls your tools answered with an error") == [
        "3 in 1 / 1 runs", "3 in 1 / 1 runs"]  # each oracle tries a check 3 times, then gives it up
    react = next(t for t in traces if t["approach"] == "react")
    assert "the lookup service refused beta/gamma" in json.dumps(react)  # what the agent was shown


def test_no_ground_truth_leaves_the_findings_rows_na_and_everything_else_measured(tmp_path):
    (tmp_path / "plain_tools.py").write_text(PAIR_MODULE)
    path = user_task(tmp_path, 'function = "plain_tools:check_pair"')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "rlm,react_v2",
                         "--output", "r.json"], tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary_row(result.stdout, "Findings and overall risk (no ground truth)") == ["n/a", "n/a"]
    assert "recall / precision" not in result.stdout and "Overall risk level right" not in result.stdout
    assert summary_row(result.stdout, "Coverage, items pairs") == ["3/3", "3/3"]
    assert records(tmp_path / "r.json")["task"]["truth"] == "none"
    assert "Your tools: check_pair answered by your code; no ground truth" in result.stdout


def test_a_resume_whose_tools_now_answer_differently_is_refused_in_one_line(tmp_path):
    (tmp_path / "changing_tools.py").write_text(PAIR_MODULE)
    path = user_task(tmp_path, 'function = "changing_tools:check_pair"\n'
                                'finding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = 1 }')
    first = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--approaches", "react_v2",
                        "--output", "r.json"], tmp_path)
    assert first.returncode == 0, first.stderr[-2000:]
    (tmp_path / "changing_tools.py").write_text(PAIR_MODULE.replace('{"alpha", "gamma"}', '{"alpha", "beta"}'))
    # A process of its own: this one has imported the module already, as one invocation does.
    resumed = run_process(["--resume", "r.jsonl", "--runs", "2"], tmp_path)
    assert resumed.returncode == 2, resumed.stderr
    lines = resumed.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("Ground truth read from the tools"), resumed.stderr
    assert lines[1].startswith("error: cannot resume: the task's tools now answer differently")


def test_sandboxed_code_reaches_the_users_code_only_through_the_declared_tools(tmp_path):
    shutil.copytree(EXAMPLES / "drugs_python", tmp_path / "task")
    probe = ("out = {}\n"
             "try:\n    import drug_tools\n    out['import'] = 'imported'\nexcept Exception as e:\n"
             "    out['import'] = type(e).__name__\n"
             f"try:\n    open({str(tmp_path / 'task' / 'drug_data.py')!r}).read()\n    out['read'] = 'read'\n"
             "except Exception as e:\n    out['read'] = type(e).__name__\n"
             "out['tool'] = check_drug_interaction('warfarin', 'aspirin')[:5]\n"
             "print(out)")
    submit = ("SUBMIT(interactions=[], pairs_without_interaction=[], contraindications=[], overall_risk='low', "
              "risk_assessment='probe')")

    cells = []

    def behaviour(body, system, user):
        """The probe in the first cell, SUBMIT in the second; the oracle's reply to anything else."""
        if "code" not in system:
            return None
        cells.append(1)
        return rlm_code_reply(probe if len(cells) == 1 else submit)

    result = run_against_server(behaviour, ["--task", str(tmp_path / "task" / "task.toml"), "--approaches", "rlm"],
                                tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    trace = json.loads((tmp_path / "r.traces.jsonl").read_text().splitlines()[0])
    output = trace["code_cells"][0]["output"]
    assert "'import': 'ModuleNotFoundError'" in output and "'read': 'FileNotFoundError'" in output
    assert "'tool': 'MAJOR'" in output
    assert [c["tool"] for c in trace["tool_calls"]] == ["check_drug_interaction"]


def test_gepa_opens_the_users_server_and_reads_the_truth_before_it_compiles(tmp_path):
    # A dry run: the compile itself calls the tools through the same wrapper as every run (a full oracle compile
    # over this server scored 1.000 before and after on the held-out cases; test_gepa compiles the built-in task).
    result = run_script(["--task", str(EXAMPLES / "drugs_mcp" / "task.toml"), "--dry-run"], tmp_path,
                        script=GEPA_SCRIPT)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Ground truth read from the tools: 35 checks, 10 findings" in result.stderr
    assert "6 train, 3 validation, 3 held-out test" in result.stdout and "No LM was called." in result.stdout
    assert servers(EXAMPLES / "drugs_mcp") == []


def test_an_answer_read_as_a_severity_outside_the_scale_stops_the_truth_pass_in_one_line(tmp_path):
    (tmp_path / "severe_tools.py").write_text(PAIR_MODULE.replace("CLASH (high)", "CLASH (severe)"))
    path = user_task(tmp_path, 'function = "severe_tools:check_pair"\n'
                               'finding = { pattern = "CLASH \\\\((\\\\w+)\\\\)", severity_group = 1 }')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: {path}: tools[0].finding: check_pair(alpha, gamma) answered severity "
                                     f"'severe', not in the scale high, low")


@pytest.mark.parametrize("matcher", [
    FindingMatcher(pattern=r"CLASH \((\w+)\)", severity_group=1),
    FindingMatcher(pattern=r"^CONTRAINDICATED"),
    FindingMatcher(field="severity", clear=("none",), severity_field="severity"),
    FindingMatcher(field="contraindicated", clear=("False",)),
])
def test_the_oracle_code_reads_an_answer_as_the_truth_pass_does(matcher):
    """One rule, two forms: FindingMatcher.read (truth pass, scoring) and .code (the oracle's sandboxed RLM code)."""
    answers = ["CLASH (high) between the two", "fine", "CONTRAINDICATED: x", {"severity": "major"},
               {"severity": "none"}, '{"severity": "minor"}', "{not json", {"contraindicated": False},
               {"contraindicated": True}, {"other": 1}]
    lines, found, severity = matcher.code("_result")
    for answer in answers:
        namespace = {"json": json, "re": re, "_result": answer}
        exec("\n".join(lines + [f"_found_now = bool({found})"] + ([f"_severity = {severity} if _found_now else None"]
                                                                  if severity else [])), namespace)
        reading = matcher.read(answer)
        assert namespace["_found_now"] == reading.found, answer
        if severity and reading.found:
            assert namespace["_severity"] == reading.severity, answer


def test_items_reach_your_function_exactly_as_the_file_spells_them_in_every_arm(tmp_path):
    path = spelled_task(tmp_path, "function")
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--output", "r.json",
                         "--approaches", EVERY_ARM], tmp_path)
    check_spelled_run(result, tmp_path)
    assert "Ground truth read from the tools: 6 checks, 1 finding" in result.stderr


def test_every_arm_gives_up_on_a_check_your_tool_always_rejects_and_names_it(tmp_path):
    (tmp_path / "rejecting_tools.py").write_text(PAIR_MODULE)
    path = user_task(tmp_path, 'function = "rejecting_tools:check_pair"\nfindings = [{ items = ["alpha", '
                                '"gamma"], severity = "high", details = "clash" }]')
    result = run_script(["--task", path, "--model", "oracle", "--runs", "1", "--output", "r.json",
                         "--approaches", EVERY_ARM], tmp_path, PAIR_RAISES="1")
    assert result.returncode == 0, result.stderr[-2000:]
    for record in records(tmp_path / "r.json")["records"]:
        assert record["ok"] and covered(record) == (2, 3), record["approach"]
        assert record["narrative"].endswith("Checks not made (every try failed): check_pair(beta, gamma)."), \
            record["approach"]
    for line in (tmp_path / "r.traces.jsonl").read_text().splitlines():
        trace = json.loads(line)
        rejected = [c for c in trace["tool_calls"] if set(c["args"].values()) == {"beta", "gamma"}]
        assert [c["outcome"] for c in rejected] == ["tool_error"] * 3, trace["approach"]
