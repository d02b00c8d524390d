"""Sweep sizes: one length per input list of a task, written `16x6` (16 of the first list, 6 of the second)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from rlmbench.words import counted

MAX_ITEMS = 200


@dataclass(frozen=True)
class Size:
    lengths: tuple[int, ...]

    def __str__(self) -> str:
        return "x".join(str(n) for n in self.lengths)


def parse_sizes(text: str, list_names: list[str]) -> tuple[Size, ...]:
    """'4x2,8x3' -> sizes, one length per list in the task's order; ValueError with a message to show."""
    shape = "x".join(name.upper() for name in list_names)
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if not re.fullmatch(r"\d+(x\d+)*", part):
            raise ValueError(f"size {part!r} is not {shape}, for example {'x'.join(['8'] * len(list_names))}")
        lengths = tuple(int(n) for n in part.split("x"))
        if len(lengths) != len(list_names):
            raise ValueError(f"size {part!r} names {counted(len(lengths), 'list')}; this task has {len(list_names)}: {shape}")
        for name, n in zip(list_names, lengths):
            if not 1 <= n <= MAX_ITEMS:
                raise ValueError(f"size {part}: {name} must be 1 to {MAX_ITEMS}")
        sizes.append(Size(lengths))
    if not sizes:
        raise ValueError("no sizes given")
    return tuple(dict.fromkeys(sizes))


# The sweep's default when a task names none: today's drug sweep, with each further list following the second.
_FIRST = (4, 8, 12, 16, 32, 50)
_OTHERS = (2, 3, 4, 6, 8, 20)


def default_sizes(list_count: int) -> tuple[Size, ...]:
    return tuple(Size((first, *([other] * (list_count - 1)))) for first, other in zip(_FIRST, _OTHERS))
