"""Generated drug databases of any size, with known ground truth, for the scale sweep.

The default scenario has 7 drugs and 2 conditions (35 checks). The thesis is about how each
architecture's cost grows with the number of checks, so the sweep needs patients of 4 to 50
drugs against several conditions. These databases are random but fixed by their seed, and,
like the default one, simulated: the names are placeholders, not drugs.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from tools import SEVERITIES, Interaction, Scenario

INTERACTION_RATE = 0.12
CONTRAINDICATION_RATE = 0.08
SEVERITY_WEIGHTS = (0.3, 0.4, 0.3)  # major, moderate, minor
CLASSES = ("anticoagulant", "antiarrhythmic", "statin", "antiplatelet", "ACE inhibitor", "biguanide",
           "electrolyte supplement", "beta blocker", "diuretic", "proton pump inhibitor")


@dataclass(frozen=True)
class Size:
    drugs: int
    conditions: int

    @property
    def checks(self) -> int:
        """Required checks: every drug pair plus every drug against every condition."""
        return self.drugs * (self.drugs - 1) // 2 + self.drugs * self.conditions

    def __str__(self) -> str:
        return f"{self.drugs}x{self.conditions}"


DEFAULT_SWEEP = (Size(4, 2), Size(8, 3), Size(12, 4), Size(16, 6), Size(32, 8), Size(50, 20))


def parse_sizes(text: str) -> tuple[Size, ...]:
    """'4x2,8x3' -> sizes; ValueError with a message the command line can show."""
    sizes = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)x(\d+)", part)
        if not match:
            raise ValueError(f"size {part!r} is not DRUGSxCONDITIONS, for example 16x4")
        drugs, conditions = int(match.group(1)), int(match.group(2))
        if not 2 <= drugs <= 200 or not 1 <= conditions <= 100:
            raise ValueError(f"size {part}: drugs must be 2 to 200 and conditions 1 to 100")
        sizes.append(Size(drugs, conditions))
    if not sizes:
        raise ValueError("no sizes given")
    return tuple(dict.fromkeys(sizes))


def synthetic_scenario(size: Size, seed: int = 0) -> Scenario:
    rng = random.Random(f"{seed}-{size}")
    drugs = tuple(f"drug_{i:02d}" for i in range(1, size.drugs + 1))
    conditions = tuple(f"condition_{j:02d}" for j in range(1, size.conditions + 1))
    interactions = {}
    for i, a in enumerate(drugs):
        for b in drugs[i + 1:]:
            if rng.random() < INTERACTION_RATE:
                severity = rng.choices(SEVERITIES, weights=SEVERITY_WEIGHTS)[0]
                interactions[frozenset((a, b))] = Interaction(severity, f"Simulated {severity} interaction.")
    contraindications = {(d, c): "Simulated contraindication." for d in drugs for c in conditions
                         if rng.random() < CONTRAINDICATION_RATE}
    return Scenario(
        medications=drugs,
        conditions=conditions,
        drug_classes={d: rng.choice(CLASSES) for d in drugs},
        interactions=interactions,
        contraindications=contraindications,
        name=f"synthetic-{size}-seed{seed}",
    )
