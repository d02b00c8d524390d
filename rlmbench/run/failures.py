"""A failed run's cause as a stable category, so failures can be counted and compared across runs.

One table, checked in order: the first row whose test matches the exception names the category.
"""

from __future__ import annotations

import traceback
from typing import Callable

from dspy.primitives.code_interpreter import CodeInterpreterError
from dspy.utils.exceptions import (
    AdapterParseError,
    ContextWindowExceededError,
    LMAuthError,
    LMError,
    LMRateLimitError,
    LMServerError,
    LMTimeoutError,
)

from rlmbench.agents.hybrid import PlanError
from rlmbench.lm.gated import RunCancelled
from rlmbench.results.records import Failure
from rlmbench.tasks.backends import ServerError


def _is(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, types)


def _no_code(exc: BaseException) -> bool:
    # DSPy 3.4.1's RLM when the model returns no code (dspy issue 9632).
    return isinstance(exc, AttributeError) and "'NoneType' object has no attribute 'strip'" in str(exc)


FAILURE_CATEGORIES: tuple[tuple[str, Callable[[BaseException], bool]], ...] = (
    ("tool_server_error", _is(ServerError)),
    ("plan_invalid", _is(PlanError)),
    ("timeout", _is(RunCancelled)),
    ("no_code", _no_code),
    ("rate_limited", _is(LMRateLimitError)),
    ("timeout", _is(LMTimeoutError, TimeoutError)),
    ("server_error", _is(LMServerError)),
    ("auth_error", _is(LMAuthError)),
    ("context_window", _is(ContextWindowExceededError)),
    ("parse_error", _is(AdapterParseError)),
    ("sandbox_error", _is(CodeInterpreterError)),
    ("lm_error", _is(LMError)),
    ("error", _is(BaseException)),
)
"""(category, test), in the order they are tried; `error` takes anything else."""


def classify_failure(exc: BaseException) -> str:
    return next(category for category, test in FAILURE_CATEGORIES if test(exc))


def failure_of(exc: BaseException) -> Failure:
    return Failure(category=classify_failure(exc), type=type(exc).__name__, message=str(exc)[:500],
                   traceback="".join(traceback.format_exception(exc))[-4000:])
