"""Building the language model a run talks to: the offline oracle, a hosted provider, or a local server."""

from __future__ import annotations

import contextlib
import io
import os

import dspy

from rlmbench.lm.gated import GatedLM, TokenPacer
from rlmbench.lm.metered import LiteLLMUpstream, OracleUpstream
from rlmbench.lm.oracle.engine import OracleEngine
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW, ORACLE_MODEL_NAME, ModelSettings
from rlmbench.tasks.task import TaskSchema


def missing_keys_message(models: list[ModelSettings]) -> str | None:
    """One line naming every model whose key is not set, before any run starts; None when all are."""
    missing = [(m, wanted) for m in models if (wanted := _missing_key(m))]
    if not missing:
        return None
    if len(missing) == 1 and len(models) == 1:
        model, wanted = missing[0]
        return (f"error: {model.model} needs {wanted}: set it in the environment or in a .env file "
                f"(see .env.example), or run offline with --model oracle")
    named = "; ".join(f"{m.name} needs {wanted}" for m, wanted in missing)
    return f"error: missing API keys: {named}. Set them in the environment or in a .env file (see .env.example)"


def missing_key_message(settings: ModelSettings) -> str | None:
    """The one line to show when the chosen provider's API key is not set, else None."""
    return missing_keys_message([settings])


def _missing_key(settings: ModelSettings) -> str | None:
    """The variable(s) a model needs and lacks, or None."""
    if settings.api_key_env:
        return None if os.environ.get(settings.api_key_env) else settings.api_key_env
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
    return " or ".join(keys)


def build_lm(settings: ModelSettings, schema: TaskSchema) -> dspy.LM:
    """An uncached LM for the settings, gated by the current run's time budget and the token pace.

    `schema` is the task's: the offline oracle plays its roles from it (never from its data).

    A local OpenAI-compatible server (`--api-base`) goes through LiteLLM, which sends
    `max_tokens`: DSPy's native client sends `max_completion_tokens`, which llama.cpp's server
    ignores, generating until its context is full. Its requests are closed when the run's budget
    runs out (GatedLM `closes_at_budget`).
    """
    pacer = TokenPacer(settings.tokens_per_minute) if settings.tokens_per_minute else None
    if settings.is_oracle:
        window = settings.context_window or ORACLE_CONTEXT_WINDOW  # the engine refuses a larger prompt itself
        return GatedLM(f"{ORACLE_MODEL_NAME}/deterministic", engine=OracleEngine(schema, window), cache=False,
                       max_tokens=settings.max_tokens, pacer=pacer, upstream=OracleUpstream(schema, window))
    kwargs: dict = dict(cache=False, retries=settings.retries, max_tokens=settings.max_tokens, pacer=pacer)
    if settings.timeout:
        kwargs["timeout"] = settings.timeout
    if settings.api_base:
        import litellm  # noqa: F401  (a one-time ~3 s import, paid here rather than inside the first timed run)

        kwargs.update(engine="litellm", api_base=settings.api_base, closes_at_budget=True,
                      api_key=settings.resolved_key() or os.environ.get("OPENAI_API_KEY") or "no-key-needed")
    elif settings.resolved_key():
        kwargs["api_key"] = settings.resolved_key()
    upstream = LiteLLMUpstream(settings.model, {k: kwargs[k] for k in ("api_base", "api_key", "max_tokens")
                                                if k in kwargs}, settings.context_window)
    return GatedLM(settings.model, upstream=upstream, window=settings.context_window, **kwargs)
