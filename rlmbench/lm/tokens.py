"""Counting tokens offline: o200k_base from the copy LiteLLM ships (tiktoken cannot download encodings here)."""

from __future__ import annotations

import functools
import importlib.util
import os
from pathlib import Path


@functools.cache
def load_encoding():
    spec = importlib.util.find_spec("litellm")  # locate without importing: LiteLLM takes ~3 s to import
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("tokens are counted with LiteLLM's bundled o200k_base, but LiteLLM is not installed")
    bundled = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(bundled))
    import tiktoken

    return tiktoken.get_encoding("o200k_base")


def count_tokens(text: str) -> int:
    return len(load_encoding().encode(text, disallowed_special=()))
