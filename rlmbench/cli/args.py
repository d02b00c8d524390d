"""Arguments shared by the command-line scripts: types that turn bad input into an argparse error,
not a traceback, and the provider and RLM flags both scripts take, defined once."""

from __future__ import annotations

import argparse
import sys

from rlmbench.agents.approach import ApproachConfig
from rlmbench.lm.settings import ModelSettings
from rlmbench.tasks.task import Task
from rlmbench.tasks.task_file import DEFAULT_TASK, TaskFileError, builtin_names, load_task


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _whole_number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _finite(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    return value


def non_negative_float(text: str) -> float:
    value = _finite(text, "a number")
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text}")
    return value


def latency_list(text: str) -> tuple[float, ...]:
    """`25` or `0,25,100`: milliseconds, each 0 or more, no value twice."""
    values = tuple(non_negative_float(part.strip()) for part in text.split(","))
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a latency is given twice in {text}")
    return values


def token_list(text: str) -> tuple[int, ...]:
    """`2000` or `0,500,2000`: tokens, each a whole number from 0 to 200,000, no value twice."""
    values = []
    for part in text.split(","):
        try:
            value = int(part.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number of tokens: {part.strip()!r}") from None
        if not 0 <= value <= 200_000:
            raise argparse.ArgumentTypeError(f"must be from 0 to 200,000 tokens, got {value}")
        values.append(value)
    if len(set(values)) != len(values):
        raise argparse.ArgumentTypeError(f"a size is given twice in {text}")
    return tuple(values)


def failure_rate(text: str) -> float:
    value = _finite(text, "a number")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 0 and below 1 (a check that always fails cannot be "
                                         f"recovered), got {text}")
    return value


def positive_seconds(text: str) -> float:
    value = _finite(text, "a number of seconds")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def add_provider_args(parser: argparse.ArgumentParser, api_base_help: str) -> None:
    """--api-base, --api-key, --max-tokens, --retries: how to reach the model, with ModelSettings' defaults."""
    defaults = ModelSettings()
    parser.add_argument("--api-base", help=api_base_help)
    parser.add_argument("--api-key", help="API key for --api-base or the provider (default: from the environment)")
    parser.add_argument("--max-tokens", type=positive_int, default=defaults.max_tokens,
                        help=f"completion token limit per LM call (default {defaults.max_tokens})")
    parser.add_argument("--context-window", type=positive_int, metavar="TOKENS",
                        help="the model's context window: a request whose prompt is larger fails as context_window "
                             "before it is sent, as the provider would refuse it (default: LiteLLM's model map, "
                             "shown beside the largest prompt and enforced by the provider; the oracle's 131,072)")
    parser.add_argument("--retries", type=non_negative_int, default=defaults.retries,
                        help=f"retries of an LM call after a transient provider error (429, 5xx, timeout, dropped connection), made by the benchmark (never after the run's --timeout) with DSPy's backoff rule (default {defaults.retries})")


def add_rlm_limit_args(parser: argparse.ArgumentParser) -> None:
    """--rlm-max-iters, --rlm-max-llm-calls, with ApproachConfig's defaults."""
    defaults = ApproachConfig()
    parser.add_argument("--rlm-max-iters", type=positive_int, default=defaults.rlm_max_iters,
                        help=f"RLM REPL iterations (default {defaults.rlm_max_iters})")
    parser.add_argument("--rlm-max-llm-calls", type=positive_int, default=defaults.rlm_max_llm_calls,
                        help=f"sub-LLM calls an RLM run may make from its code (default {defaults.rlm_max_llm_calls})")


def model_settings(args: argparse.Namespace, model: str, **extra) -> ModelSettings:
    """The ModelSettings for `model` from the provider flags added by add_provider_args."""
    return ModelSettings(model=model, api_base=args.api_base, api_key=args.api_key,
                         max_tokens=args.max_tokens, retries=args.retries, context_window=args.context_window, **extra)


def add_task_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", default=DEFAULT_TASK, metavar="NAME|PATH",
                        help=f"a built-in task ({', '.join(builtin_names())}) or the path of a task file "
                             f"(default {DEFAULT_TASK}; see docs/task-files.md)")


def load_task_arg(name_or_path: str) -> Task | None:
    """The task --task names, or None after printing the one-line reason it cannot be used."""
    try:
        return load_task(name_or_path)
    except TaskFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
