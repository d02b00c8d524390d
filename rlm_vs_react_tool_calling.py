"""Benchmark: ReAct vs RLM Direct vs RLM-planner + ReAct-executor vs ReActV2 on a task of checks.

    uv run python rlm_vs_react_tool_calling.py --model oracle --runs 3           # offline, the drug task
    uv run python rlm_vs_react_tool_calling.py --list-tasks                      # the built-in tasks
    uv run python rlm_vs_react_tool_calling.py --task compliance --model oracle  # another task
    uv run python rlm_vs_react_tool_calling.py --runs 3                          # Groq, needs GROQ_API_KEY
    uv run python rlm_vs_react_tool_calling.py --model oracle --scale --plot     # scale sweep and charts

The built-in tasks hold SIMULATED DATA: never use them for clinical or any other real decisions.
"""

import sys

import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)
from rlmbench.cli.run_cmd import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__))
