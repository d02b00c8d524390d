"""A model's context window: the largest prompt it takes, and where that figure came from.

In order: the model's own `context_window` (a models file, or `--context-window`), the oracle's (the study's model),
or LiteLLM's bundled model map (`max_input_tokens`, read offline). A window the user declared, and the oracle's, is
enforced by the benchmark before a request is sent (lm.gated), as a provider refuses an oversized prompt; a window
from LiteLLM's map is the provider's to enforce, and is shown beside the largest prompt.
"""

from __future__ import annotations

from rlmbench.lm.adapter_text import message_text
from rlmbench.lm.settings import ORACLE_CONTEXT_WINDOW, ContextWindow, ModelSettings
from rlmbench.lm.tokens import count_tokens


def window_refusal(window: int, prompt_tokens: int) -> str:
    """How a request over the window is refused, in the words OpenAI-compatible providers use."""
    return (f"This model's maximum context length is {window:,} tokens. However, your messages resulted in "
            f"{prompt_tokens:,} tokens (context_length_exceeded).")


def prompt_tokens(messages: list[dict] | None, prompt: str | None = None) -> int:
    """A request's prompt in tokens (o200k_base), as the window is counted."""
    texts = [prompt or ""] + [message_text(m.get("content")) for m in messages or []]
    return sum(count_tokens(t) for t in texts if t)



def window_of(settings: ModelSettings) -> ContextWindow | None:
    if settings.context_window is not None:
        return ContextWindow(tokens=settings.context_window, source="models file or flags", enforced=True)
    if settings.is_oracle:
        return ContextWindow(tokens=ORACLE_CONTEXT_WINDOW, source="the oracle's: the study's model's", enforced=True)
    import litellm

    for key in dict.fromkeys([settings.model, settings.model.split("/", 1)[-1]]):
        tokens = (litellm.model_cost.get(key) or {}).get("max_input_tokens")
        if tokens:
            return ContextWindow(tokens=int(tokens), source=f"LiteLLM model map ({key})", enforced=False)
    return None
