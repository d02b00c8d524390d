"""docs/flags.md, generated from the commands' own parsers so the reference cannot drift from the code.

    uv run python -m rlmbench.cli.flags_doc > docs/flags.md

A test compares the file with this output; after changing a flag, run the line above.
"""

from __future__ import annotations

import argparse
import importlib

from rlmbench.cli.main import COMMANDS


def _flag(action: argparse.Action) -> str:
    names = ", ".join(f"`{o}`" for o in action.option_strings) or f"`{action.dest.upper()}`"
    if action.option_strings and action.nargs != 0:
        value = action.metavar or ("{" + ",".join(action.choices) + "}" if action.choices else action.dest.upper())
        names += f" {value}" if action.nargs != "?" else f" [{value}]"
    return _cell(names)


def _default(action: argparse.Action) -> str:
    if action.nargs == 0 or action.default in (None, argparse.SUPPRESS):
        return ""
    value = action.default
    if isinstance(value, (tuple, list)):
        value = ",".join(map(str, value))
    return f"`{value}`"


def _cell(text: str | None) -> str:
    return " ".join((text or "").split()).replace("|", "\\|")


def command_table(name: str) -> str:
    module = importlib.import_module(COMMANDS[name][0])
    parser: argparse.ArgumentParser = module.build_parser(prog=f"rlmbench {name}")
    rows = [f"| {_flag(a)} | {_default(a)} | {_cell(a.help)} |" for a in parser._actions
            if not isinstance(a, argparse._HelpAction)]
    what = _cell(COMMANDS[name][1])
    return "\n".join([f"## `rlmbench {name}`", "", what[0].upper() + what[1:] + ".", "",
                      "| flag | default | what it does |", "| --- | --- | --- |", *rows])


def render() -> str:
    parts = ["# Flags", "",
             "Every flag of every `rlmbench` command, generated from the parsers by `rlmbench/cli/flags_doc.py`.",
             "The three scripts of a checkout take the same flags: `rlm_vs_react_tool_calling.py` is",
             "`rlmbench run`, `gepa_train_rlm.py` is `rlmbench gepa`, `html_report.py` is `rlmbench report`.", ""]
    parts += [command_table(name) + "\n" for name in COMMANDS if name != "tasks"]
    parts += ["## `rlmbench tasks`", "", "No flags: lists the built-in tasks (the same as `rlmbench run --list-tasks`).", ""]
    return "\n".join(parts)


if __name__ == "__main__":
    print(render(), end="")
