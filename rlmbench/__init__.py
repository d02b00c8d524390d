"""RLM vs ReAct tool-calling benchmark: scenario -> approach -> run record -> summary."""

import os

# DSPy and LiteLLM fetch model metadata from the internet on first use and wait up to 5 s
# when offline. The bundled snapshot is enough for a benchmark; no run may wait on it.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
