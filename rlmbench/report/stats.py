"""Intervals a skeptic accepts, for the few runs a benchmark can afford.

- A mean (wall time, tokens, cost) gets a 95% Student t interval over the runs: it assumes the
  runs are independent draws from one distribution whose mean is roughly normal. With n = 3
  the t quantile is 4.30 (1.96 for a normal), so the interval is wide: that is the honest width.
  With n = 1 there is no interval.
- A rate (complete runs, runs without error) k / n gets a 95% Wilson score interval, which stays
  inside [0, 1] and is not degenerate at 0 / n or n / n, unlike the normal approximation.
- pass^k (tau-bench): C(c, k) / C(n, k), the chance that k runs drawn without replacement from
  the n measured are all complete; it says how dependable an arm is on every one of k tries.
- The difference of two arms' means gets Welch's t interval (unequal variances).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

CONFIDENCE = 0.95


def _t_quantile(confidence: float, df: float) -> float:
    """Student t's two-sided quantile; scipy.stats loads here (about 3 s on a small machine), not at import."""
    from scipy import stats

    return float(stats.t.ppf((1 + confidence) / 2, df))


@dataclass(frozen=True)
class Interval:
    mean: float
    low: float | None
    high: float | None
    n: int

    @property
    def has_interval(self) -> bool:
        return self.low is not None


def mean_interval(values: list[float], confidence: float = CONFIDENCE, floor: float | None = 0.0) -> Interval | None:
    """Mean with a Student t interval; no interval for n = 1; None for no values.

    The interval is clipped at `floor` (0: wall time, tokens and cost cannot be negative, though
    a t interval over few runs may reach below it); None leaves it as computed."""
    if not values:
        return None
    mean = statistics.fmean(values)
    n = len(values)
    if n < 2:
        return Interval(mean, None, None, n)
    half = _t_quantile(confidence, n - 1) * statistics.stdev(values) / math.sqrt(n)
    low = mean - half if floor is None else max(floor, mean - half)
    return Interval(mean, low, mean + half, n)


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float] | None:
    if n == 0:
        return None
    z = statistics.NormalDist().inv_cdf((1 + confidence) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def pass_hat_k(successes: int, n: int, k: int) -> float:
    """tau-bench's pass^k: C(c, k) / C(n, k)."""
    if not 1 <= k <= n:
        raise ValueError(f"k must be 1 to n ({n}), got {k}")
    return math.comb(successes, k) / math.comb(n, k)


def difference_interval(a: list[float], b: list[float], confidence: float = CONFIDENCE) -> Interval | None:
    """mean(a) - mean(b) with Welch's t interval; no interval unless both have two or more values."""
    if not a or not b:
        return None
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return Interval(diff, None, None, min(len(a), len(b)))
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return Interval(diff, diff, diff, min(len(a), len(b)))
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    half = _t_quantile(confidence, df) * se
    return Interval(diff, diff - half, diff + half, min(len(a), len(b)))
