"""How a count reads: `1 run`, `2 runs`. One rule for every message the benchmark writes."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 run`, `2 runs`, `1,050 checks`; `plural` for nouns that do not take an s (`1 candidate`, `2 analyses`)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
