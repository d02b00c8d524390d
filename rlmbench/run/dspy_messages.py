"""DSPy's own log messages, said for the command line.

DSPy 3.4.1 tells a Python user what to call (`dspy.inspect_history()`, "when setting up dspy.LM");
a user of `rlmbench run` has flags and files instead. While the benchmark runs, a filter on DSPy's
LM logger rewrites those messages to say what to do here, once each: the summary's diagnostics count
every occurrence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rlmbench.run.server_idle import probing

LM_LOGGER = "dspy.clients.lm"


@dataclass
class CommandLineWords(logging.Filter):
    """Rewrites DSPy's truncation warning (both of its forms) to name --max-tokens and the traces file."""

    traces: Path
    said: set[str] = field(default_factory=set)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if not message.startswith("LM response was truncated"):
            return True
        if probing():  # the idle probe asks for one token: its cut reply is no truncation, and said once it
            return False  # would hide a real one later
        if "truncated" in self.said:
            return False
        self.said.add("truncated")
        record.msg, record.args = (
            "DSPy: an LM reply was cut at max_tokens. Raise --max-tokens (or max_tokens in the models file); "
            f"every reply is in {self.traces} and on the report page, and the summary's 'Replies cut at "
            "max_tokens' row counts them (said once).", None)
        return True

    def __enter__(self) -> "CommandLineWords":
        logging.getLogger(LM_LOGGER).addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        logging.getLogger(LM_LOGGER).removeFilter(self)
