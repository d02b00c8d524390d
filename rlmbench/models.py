"""Building the language model a run talks to: the offline oracle, a hosted provider, or a local server."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass

import dspy

from rlmbench.oracle import ORACLE_MODEL_NAME, OracleEngine
from rlmbench.run_control import GatedLM, TokenPacer
from rlmbench.task import TaskSchema

DEFAULT_MODEL = "groq/openai/gpt-oss-120b"
DEFAULT_MAX_TOKENS = 8192


class ConfigurationError(Exception):
    """A problem with the user's settings, reported as one line with exit code 2."""


@dataclass(frozen=True)
class ModelSettings:
    model: str = DEFAULT_MODEL
    api_base: str | None = None
    api_key: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    retries: int = 3
    timeout: float | None = None  # seconds per HTTP request
    tokens_per_minute: int | None = None  # pace LM calls to stay under this budget

    @property
    def is_oracle(self) -> bool:
        return self.model == ORACLE_MODEL_NAME

    def describe(self) -> dict:
        """Settings for the results file; never the key itself."""
        return {
            "model": self.model,
            "api_base": self.api_base,
            "api_key_given": self.api_key is not None,
            "max_tokens": self.max_tokens,
            "retries": self.retries,
            "timeout": self.timeout,
            "tokens_per_minute": self.tokens_per_minute,
        }


def missing_key_message(settings: ModelSettings) -> str | None:
    """The one line to show when the chosen provider's API key is not set, else None."""
    if settings.is_oracle or settings.api_base or settings.api_key:
        return None
    import litellm

    with contextlib.redirect_stdout(io.StringIO()):  # LiteLLM prints a provider list for unknown providers
        try:
            check = litellm.validate_environment(settings.model)
        except Exception:
            return None
    keys = [k for k in check.get("missing_keys", []) if k.endswith(("_KEY", "_TOKEN"))]
    if check.get("keys_in_environment") or not keys:
        return None
    wanted = " or ".join(keys)
    return (
        f"error: {settings.model} needs {wanted}: set it in the environment or in a .env file "
        f"(see .env.example), or run offline with --model oracle"
    )


def build_lm(settings: ModelSettings, schema: TaskSchema) -> dspy.LM:
    """An uncached LM for the settings, gated by the current run's time budget and the token pace.

    `schema` is the task's: the offline oracle plays its roles from it (never from its data).

    A local OpenAI-compatible server (`--api-base`) goes through LiteLLM, which sends
    `max_tokens`: DSPy's native client sends `max_completion_tokens`, which llama.cpp's server
    ignores, generating until its context is full.
    """
    pacer = TokenPacer(settings.tokens_per_minute) if settings.tokens_per_minute else None
    if settings.is_oracle:
        return GatedLM(f"{ORACLE_MODEL_NAME}/deterministic", engine=OracleEngine(schema), cache=False,
                       num_retries=0, max_tokens=settings.max_tokens, pacer=pacer)
    kwargs: dict = dict(cache=False, num_retries=settings.retries, max_tokens=settings.max_tokens, pacer=pacer)
    if settings.timeout:
        kwargs["timeout"] = settings.timeout
    if settings.api_base:
        import litellm  # noqa: F401  (a one-time ~3 s import, paid here rather than inside the first timed run)

        kwargs.update(engine="litellm", api_base=settings.api_base,
                      api_key=settings.api_key or os.environ.get("OPENAI_API_KEY") or "no-key-needed")
    elif settings.api_key:
        kwargs["api_key"] = settings.api_key
    return GatedLM(settings.model, **kwargs)
