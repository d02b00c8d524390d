"""`python -m rlmbench`: the same as the `rlmbench` command."""

from rlmbench.cli.main import entry

entry()
