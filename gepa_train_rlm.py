"""Compile the RLM agent with dspy.GEPA against a deterministic tool-call coverage metric, on any task.

    uv run python gepa_train_rlm.py --dry-run                                  # no LLM call
    uv run python gepa_train_rlm.py --program-model oracle --reflection-model oracle --max-metric-calls 6
    uv run python gepa_train_rlm.py --max-metric-calls 6 --metric coverage     # Groq, needs GROQ_API_KEY

The built-in tasks hold SIMULATED DATA: never use them for clinical or any other real decisions.
"""

import sys

import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)
from rlmbench.cli.gepa_cmd import main

if __name__ == "__main__":
    sys.exit(main(description=__doc__))
