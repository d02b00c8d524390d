"""How to reach one model: the settings a `--model`, the provider flags or a models-file entry give.

This is the one definition of a model setting. The models file's allowed fields, the results
header's model entry (`results.meta.ModelRecord`) and the settings a resume must not change are
all read off these fields, so a new setting is added here and nowhere else. No DSPy is imported:
the report reads these records too.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_MODEL = "groq/openai/gpt-oss-120b"
DEFAULT_MAX_TOKENS = 8192
ORACLE_MODEL_NAME = "oracle"
"""The offline deterministic model (rlmbench/lm/oracle/): `--model oracle`."""

SAME_ON_RESUME = {"same_on_resume": True}
"""Field marker: a resumed invocation must not change this setting of a model it already has."""


class ModelSettings(BaseModel):
    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True, extra="forbid")

    model: str = Field(DEFAULT_MODEL, json_schema_extra=SAME_ON_RESUME)
    """DSPy/LiteLLM model string (`groq/openai/gpt-oss-120b`), or `oracle`."""
    label: str | None = None
    """What the summary calls it; default: the model string."""
    api_base: str | None = Field(None, json_schema_extra=SAME_ON_RESUME)
    """Base URL of an OpenAI-compatible server; None for the provider's own."""
    api_key: str | None = Field(None, exclude=True, repr=False)
    """The key itself (`--api-key`); never written to a file."""
    api_key_env: str | None = None
    """The name of the variable holding the key (a models file's way to give one)."""
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, json_schema_extra=SAME_ON_RESUME)
    """Completion token limit per LM call."""
    retries: int = 3
    """Retries of a request after a transient provider error, made by the benchmark (lm.gated.GatedLM) with DSPy's
    rule of what is transient."""
    timeout: float | None = None
    """Seconds per HTTP request; None: the client's default."""
    tokens_per_minute: int | None = None
    """Pace LM calls to stay under this budget (`--tpm`); None: no pacing."""
    concurrency: int = 1
    """This model's runs at once; different models always run side by side."""
    context_window: int | None = Field(None, json_schema_extra=SAME_ON_RESUME)
    """The model's context window in tokens (`--context-window`): a request whose prompt is larger fails as
    `context_window` before it is sent, as the provider would refuse it. None: LiteLLM's model map where it knows the
    model, else the provider's own refusal decides (lm.windows)."""
    price_in: float | None = None
    """Dollars per million prompt tokens, overriding LiteLLM's map."""
    price_out: float | None = None
    """Dollars per million completion tokens."""

    @property
    def name(self) -> str:
        return self.label or self.model

    @property
    def is_oracle(self) -> bool:
        return self.model == ORACLE_MODEL_NAME

    def resolved_key(self) -> str | None:
        """The key itself: --api-key, or the variable a models file names (read when the run starts)."""
        return self.api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)


def setting_names() -> list[str]:
    """Every setting, in definition order."""
    return list(ModelSettings.model_fields)


def same_on_resume() -> list[str]:
    """The settings a resume compares for a model both the log and the invocation have."""
    return [name for name, info in ModelSettings.model_fields.items() if info.json_schema_extra == SAME_ON_RESUME]


ORACLE_CONTEXT_WINDOW = 131_072
"""The oracle's window: the study's model's (gpt-oss-120b, 131,072 tokens)."""


class ContextWindow(BaseModel):
    """A model's context window, and where that figure came from."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True, extra="ignore")

    tokens: int
    """The largest prompt, in tokens, the model takes."""
    source: str
    """`models file or flags`, `the oracle's: the study's model's` or `LiteLLM model map (<key>)`."""
    enforced: bool
    """The benchmark refuses a larger prompt before sending it (a window the user declared, or the oracle's); else
    the provider's refusal is what counts."""


class Price(BaseModel):
    """What a model costs, and where that figure came from."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True, extra="ignore")

    input_per_million: float
    """Dollars per million prompt tokens."""
    output_per_million: float
    """Dollars per million completion tokens."""
    source: str
    """`models file or flags`, or `LiteLLM price map (<key>)`."""

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (prompt_tokens * self.input_per_million + completion_tokens * self.output_per_million) / 1e6
