"""The `rlmbench` command: one entry point, a subcommand per job.

Each subcommand is a module with its own parser and `main(argv, prog)`; this file only dispatches,
and imports a subcommand's module (and so DSPy) only when that subcommand runs.
"""

from __future__ import annotations

import importlib
import sys
from importlib.metadata import PackageNotFoundError, version

from rlmbench.exits import EXIT_CONFIG

COMMANDS = {
    "run": ("rlmbench.cli.run_cmd", "run the benchmark: approaches x models x runs on a task, or a --scale sweep"),
    "report": ("rlmbench.cli.report_cmd", "rebuild the HTML report of an earlier invocation from its results files"),
    "tasks": ("rlmbench.cli.tasks_cmd", "list the built-in tasks, their lists and their required checks"),
    "gepa": ("rlmbench.cli.gepa_cmd", "compile the RLM with dspy.GEPA against the coverage metric"),
}
"""subcommand -> (its module, what it does)."""


def usage() -> str:
    lines = ["usage: rlmbench COMMAND [options]   (rlmbench COMMAND --help for a command's options)", "",
             "When does code-orchestrated tool use (DSPy's RLM) beat one call per step (ReAct)? Commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "Start offline, no key needed:  rlmbench run --model oracle --runs 1"]
    return "\n".join(lines)


def _version() -> str:
    try:
        return version("rlmbench")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else EXIT_CONFIG
    if argv[0] == "--version":
        print(f"rlmbench {_version()}")
        return 0
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"rlmbench: error: unknown command {name!r}; choose from {', '.join(COMMANDS)}", file=sys.stderr)
        return EXIT_CONFIG
    import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)

    module = importlib.import_module(COMMANDS[name][0])
    return module.main(rest, prog=f"rlmbench {name}")


def entry() -> None:
    """The console script."""
    sys.exit(main())
