"""A failed run's cause as a stable category, so failures can be counted and compared across runs.

One table, checked in order: the first row whose test matches the exception, or any exception it was raised from
(another framework may wrap a provider's rate limit or a timeout in its own error), names the category. An arm's own
exceptions come first, from its registry entry (agents.approach.Approach.failure_categories).
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

from rlmbench.lm.gated import RunCancelled
from rlmbench.results.records import Failure
from rlmbench.tasks.backends import ServerError


def _is(*types: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda exc: isinstance(exc, types)


def _named(*names: str) -> Callable[[BaseException], bool]:
    """An exception of a client library the benchmark does not import (the OpenAI SDK, LiteLLM), by its class name."""
    return lambda exc: any(c.__name__ in names and not c.__module__.startswith("builtins") for c in type(exc).__mro__)


def _context_length(exc: BaseException) -> bool:
    """A provider's refusal of a prompt over the window as an OpenAI-compatible client raises it (a 400 whose code is
    `context_length_exceeded`: the OpenAI SDK's BadRequestError, inside another framework's own error)."""
    return _named("BadRequestError")(exc) and (getattr(exc, "code", None) == "context_length_exceeded"
                                               or "context_length_exceeded" in str(exc))


def _no_code(exc: BaseException) -> bool:
    # DSPy 3.4.1's RLM when the model returns no code (dspy issue 9632).
    return isinstance(exc, AttributeError) and "'NoneType' object has no attribute 'strip'" in str(exc)


FAILURE_CATEGORIES: tuple[tuple[str, Callable[[BaseException], bool]], ...] = (
    ("tool_server_error", _is(ServerError)),
    ("timeout", _is(RunCancelled)),
    ("no_code", _no_code),
    ("rate_limited", _is(LMRateLimitError)),
    ("rate_limited", _named("RateLimitError")),
    ("timeout", _is(LMTimeoutError, TimeoutError)),
    ("timeout", _named("APITimeoutError", "Timeout")),
    ("server_error", _is(LMServerError)),
    ("server_error", _named("InternalServerError", "APIConnectionError", "ServiceUnavailableError")),
    ("auth_error", _is(LMAuthError)),
    ("auth_error", _named("AuthenticationError")),
    ("context_window", _is(ContextWindowExceededError)),
    ("context_window", _named("ContextWindowExceededError")),
    ("context_window", _context_length),
    ("parse_error", _is(AdapterParseError)),
    ("sandbox_error", _is(CodeInterpreterError)),
    ("lm_error", _is(LMError)),
    ("error", _is(BaseException)),
)
"""(category, test), in the order they are tried; `error` takes anything else."""


def cause_chain(exc: BaseException) -> list[BaseException]:
    """The exception and those it was raised from (`raise ... from`, or during the handling of), outermost first."""
    chain: list[BaseException] = []
    while exc is not None and not any(exc is seen for seen in chain):
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    return chain


def classify_failure(exc: BaseException, own: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = ()) -> str:
    """The first category, the arm's own before the table, whose test matches any exception of the chain."""
    chain = cause_chain(exc)
    rows = [(category, _is(*types)) for category, types in own] + list(FAILURE_CATEGORIES)
    return next(category for category, test in rows if any(test(e) for e in chain))


def failure_of(exc: BaseException, own: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = ()) -> Failure:
    return Failure(category=classify_failure(exc, own), type=type(exc).__name__, message=str(exc)[:500],
                   traceback="".join(traceback.format_exception(exc))[-4000:])
