"""The tools every approach shares, built from a task: where a reader of the study finds them.

The code is `rlmbench/tasks/tools.py`; this module re-exports it so `from tools import make_tools`
keeps working from a checkout. A task file (rlmbench/tasks/builtin/*.toml, docs/task-files.md)
declares each tool's name, kind, arguments and docstring; `make_tools(task, record)` turns them
into plain Python functions whose names, signatures and docstrings are what DSPy shows the model.

The built-in tasks hold SIMULATED DATA: never use them for clinical or any other real decisions.
"""

from rlmbench.tasks.tools import ToolRecorder, describe_finding, make_tool, make_tools

__all__ = ["ToolRecorder", "describe_finding", "make_tool", "make_tools"]
