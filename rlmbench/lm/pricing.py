"""What a run costs in dollars: its prompt and completion tokens at the model's price.

The price comes, in order, from the model's own `price_in`/`price_out` (a models file, or
`--price-in`/`--price-out`), or from LiteLLM's bundled price map (read offline). The oracle is
free and has no price: its cost is n/a, never a made-up figure. The results file keeps the price
used and where it came from.
"""

from __future__ import annotations

from rlmbench.lm.settings import ModelSettings, Price


def price_of(settings: ModelSettings) -> Price | None:
    if settings.price_in is not None and settings.price_out is not None:
        return Price(input_per_million=settings.price_in, output_per_million=settings.price_out,
                     source="models file or flags")
    if settings.is_oracle:
        return None
    import litellm

    candidates = [settings.model, settings.model.split("/", 1)[-1]]
    for key in dict.fromkeys(candidates):
        entry = litellm.model_cost.get(key) or {}
        if entry.get("input_cost_per_token") is not None and entry.get("output_cost_per_token") is not None:
            return Price(input_per_million=entry["input_cost_per_token"] * 1e6,
                         output_per_million=entry["output_cost_per_token"] * 1e6, source=f"LiteLLM price map ({key})")
    return None
