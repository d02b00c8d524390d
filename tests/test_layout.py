"""The layout's rules: rendering never loads the runtime, no import cycles, every approach owns its
trace, every diagnostic is shown, the flags reference matches the parsers, and the package installs
with every file it reads."""

from __future__ import annotations

import ast
import subprocess
import sys
import typing
from pathlib import Path

import pytest

from rlmbench.agents.approach import Approach, react_steps
from rlmbench.agents.react import run_react
from rlmbench.agents.registry import REGISTRY
from rlmbench.cli.flags_doc import render
from rlmbench.report.rows import DIAGNOSTIC_ITEMS, DIAGNOSTICS_SHOWN_APART
from rlmbench.report.run_sections import SECTION_DRAWERS
from rlmbench.results.records import Diagnostics
from rlmbench.results.traces import TRACE_KINDS, SectionKind, TraceKind

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rlmbench"


def test_importing_the_report_loads_neither_dspy_nor_the_sandbox_nor_the_agents():
    code = ("import sys, rlmbench.report.page, rlmbench.report.summary, rlmbench.report.plots, "
            "rlmbench.report.growth, rlmbench.cli.report_cmd, rlmbench.cli.tasks_cmd\n"
            "print(sorted(m for m in sys.modules if m == 'dspy' or m == 'litellm' or "
            "m.startswith(('rlmbench.sandbox', 'rlmbench.agents', 'rlmbench.run', 'rlmbench.lm.models'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


def _module_imports() -> dict[str, set[str]]:
    """Each rlmbench module and the rlmbench modules it imports when it is imported (module level)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for p in PACKAGE.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        found = set()
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rlmbench"):
                for alias in node.names:
                    child = f"{node.module}.{alias.name}"
                    found.add(child if child in modules else node.module)
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("rlmbench")}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_module_imports_itself_through_others():
    graph = _module_imports()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(path[path.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in graph:
        if module not in state:
            visit(module, [module])


LAYERS = ("base", "tasks", "lm", "sandbox", "results", "scoring", "agents", "report", "gepa", "run", "cli")
"""docs/architecture.md's order, lowest first: a module imports only from its own layer and the ones before it."""
BASE = {"rlmbench", "rlmbench.words", "rlmbench.exits", "rlmbench.atomic_write", "rlmbench.__main__"}
LARGEST_MODULE = 500
"""Lines: a module past this holds more than one idea (docs/architecture.md)."""


def _layer(module: str) -> int:
    if module in BASE:
        return 0 if module != "rlmbench.__main__" else LAYERS.index("cli")
    return LAYERS.index(module.split(".")[1])


def test_no_layer_imports_a_layer_above_it():
    upward = [f"{module} -> {imported}" for module, imports in _module_imports().items() for imported in imports
              if _layer(imported) > _layer(module)]
    assert upward == [], "a lower layer imports a higher one (docs/architecture.md): " + "; ".join(upward)


def test_no_module_is_larger_than_one_idea():
    sizes = {p.relative_to(ROOT).as_posix(): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {path: n for path, n in sizes.items() if n > LARGEST_MODULE} == {}


def test_every_approach_names_a_trace_kind_the_report_can_draw():
    assert set(SECTION_DRAWERS) == set(typing.get_args(SectionKind))
    for approach in REGISTRY.values():
        assert isinstance(approach.trace, TraceKind) and TRACE_KINDS[approach.trace.name] is approach.trace
    assert sum(a.reference for a in REGISTRY.values()) == 1
    with pytest.raises(TypeError):  # an entry without a trace kind cannot be built
        Approach("x", "X", run_react, runs_code=False, needs_sandbox=False, one_call_per_check=True,
                 limits=react_steps)
    with pytest.raises(TypeError):  # nor with something that is not one
        Approach("x", "X", run_react, runs_code=False, needs_sandbox=False, one_call_per_check=True, trace="react",
                 limits=react_steps)

    class Incomplete(TraceKind):  # a kind that cannot draw its steps cannot be instantiated
        name, step_word = "incomplete", "steps"

        def steps_used(self, trace): return None
        def ended_by_agent(self, trace): return None
        def tool_error_steps(self, trace): return []

    with pytest.raises(TypeError):
        Incomplete()


def test_every_diagnostic_is_a_summary_row_or_said_where_it_is_shown():
    items = {item.field for item in DIAGNOSTIC_ITEMS}
    assert items.isdisjoint(DIAGNOSTICS_SHOWN_APART)
    assert items | set(DIAGNOSTICS_SHOWN_APART) == set(Diagnostics.model_fields)


def test_the_flags_reference_is_generated_from_the_parsers():
    assert (ROOT / "docs" / "flags.md").read_text() == render(), (
        "docs/flags.md is stale: run  uv run python -m rlmbench.cli.flags_doc > docs/flags.md")


def test_benchmarks_use_the_installed_package_not_path_tricks_or_the_tests():
    for script in (ROOT / "benchmarks").glob("*.py"):
        text = script.read_text()
        assert "sys.path" not in text and "from tests" not in text and "import helpers" not in text, script.name


def test_the_wheel_holds_every_file_the_package_reads(tmp_path):
    from hatchling.builders.wheel import WheelBuilder  # the build backend pyproject.toml names (a dev dependency)

    wheel = Path(next(iter(WheelBuilder(str(ROOT)).build(directory=str(tmp_path), versions=["standard"]))))
    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*")
              if p.is_file() and p.suffix in (".py", ".toml", ".json", ".ts", ".css", ".js")
              and "__pycache__" not in p.parts]
    assert wanted and [w for w in wanted if w not in names] == []
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "rlmbench = rlmbench.cli.main:entry" in zipfile.ZipFile(wheel).read(entry_points).decode()
