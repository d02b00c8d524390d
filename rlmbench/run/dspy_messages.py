"""DSPy's own log messages, said for the command line.

DSPy 3.4.1 tells a Python user what to call (`dspy.inspect_history()`, "when setting up dspy.LM");
a user of `rlmbench run` has flags and files instead. While the benchmark runs, a filter on DSPy's
loggers rewrites those messages to say what to do here, once each: the summary's diagnostics count
every occurrence. What DSPy's ReAct logs about a run (a trajectory truncated to fit the context window,
a trajectory ended on an error with its traceback) goes into that run's trace, not onto stderr.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from rlmbench.lm.adapter_text import RUN_MESSAGES
from rlmbench.lm.gated import current_run
from rlmbench.run.server_idle import probing

LM_LOGGER = "dspy.clients.lm"


@dataclass
class CommandLineWords(logging.Filter):
    """Rewrites DSPy's truncation warning (both of its forms) to name --max-tokens and the traces file."""

    traces: Path
    said: set[str] = field(default_factory=set)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(RUN_MESSAGES.get(record.name, ())):
            return self._about_the_run(record, message)
        if not message.startswith("LM response was truncated"):
            return True
        if probing():  # the idle probe asks for one token: its cut reply is no truncation, and said once it
            return False  # would hide a real one later
        return self._once(record, "truncated", (
            "DSPy: an LM reply was cut at max_tokens. Raise --max-tokens (or max_tokens in the models file); "
            f"every reply is in {self.traces} and on the report page, and the summary's 'Replies cut at "
            "max_tokens' row counts them (said once)."))

    def _once(self, record: logging.LogRecord, key: str, text: str) -> bool:
        """The record rewritten to `text` the first time `key` comes up; dropped after that."""
        if key in self.said:
            return False
        self.said.add(key)
        record.msg, record.args = text, None
        return True

    def _about_the_run(self, record: logging.LogRecord, message: str) -> bool:
        """Into the run's trace; on stderr one line, once, saying where."""
        control = current_run()
        if control is not None and hasattr(control, "note_dspy"):
            control.note_dspy(record.name, message)
        return self._once(record, "run", (
            "DSPy's ReAct or ReActV2 truncated or ended a run's trajectory (a context window exceeded, or a failed "
            f"step); what it logged, tracebacks included, is in {self.traces} under each run's dspy_log, and the "
            "summary's 'Trajectories truncated to fit the window' row counts the truncations (said once)."))

    def __enter__(self) -> "CommandLineWords":
        for name in (LM_LOGGER, *RUN_MESSAGES):
            logging.getLogger(name).addFilter(self)
        return self

    def __exit__(self, *exc) -> None:
        for name in (LM_LOGGER, *RUN_MESSAGES):
            logging.getLogger(name).removeFilter(self)
