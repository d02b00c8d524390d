"""The process exit codes every command uses."""

EXIT_OK = 0
EXIT_CONFIG = 2
"""Bad input (a flag, a task file, a models file, a missing key): one line on stderr, nothing run."""
EXIT_INTERRUPTED = 130
"""Ctrl-C: the runs that finished are saved and summarised."""
