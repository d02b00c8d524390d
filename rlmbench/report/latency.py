"""A latency sweep's summary: wall time per tool latency, and where each pair of arms changes order.

A pair's order at one latency is decided by the Welch interval of the difference of their wall times:
the faster arm where it excludes 0, no clear difference where it includes 0, and the faster mean (said
to rest on one run each) where there is no interval. The order "changes" where the clear winner flips.
"""

from __future__ import annotations

import itertools

from rlmbench.report.cells import interval_cell
from rlmbench.report.rows import Row
from rlmbench.report.stats import difference_interval, mean_interval
from rlmbench.report.tables import Table
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.behaviour import Latency


def _walls(records: list[RunRecord], approach: str, ms: float) -> list[float]:
    return [r.wall_time_s for r in records if r.approach == approach and r.tool_latency_ms == ms and r.ok]


def latency_table(records: list[RunRecord], meta: RunMeta) -> Table:
    """Wall time of the runs without error, per latency (rows) and arm (columns), with 95% intervals."""
    arms = meta.approaches
    rows: list[Row] = [(Latency(ms).text(), [interval_cell(mean_interval(_walls(records, a, ms)), "s") for a in arms])
                       for ms in meta.tools.latency_sweep_ms]
    return Table(["Tool latency", *(meta.label(a) for a in arms)], rows,
                 title="Wall time per tool latency, runs without error (mean, 95% Student t interval):")


def _faster(records: list[RunRecord], a: str, b: str, ms: float) -> str | None:
    """a, b, `=` (no clear difference), or None (one arm has no run without error)."""
    diff = difference_interval(_walls(records, a, ms), _walls(records, b, ms))
    if diff is None:
        return None
    if diff.has_interval and diff.low <= 0 <= diff.high:
        return "="
    return a if diff.mean < 0 else b


def crossover_table(records: list[RunRecord], meta: RunMeta) -> Table:
    """A row per pair of arms: faster at every latency, or where the order changes."""
    latencies = meta.tools.latency_sweep_ms
    label = meta.label
    single = all(len(_walls(records, a, ms)) < 2 for a in meta.approaches for ms in latencies)
    lines: list[Row] = []
    for a, b in itertools.combinations(meta.approaches, 2):
        verdicts = [(ms, _faster(records, a, b, ms)) for ms in latencies]
        said = [(ms, v) for ms, v in verdicts if v is not None]
        winners = [v for _, v in said if v != "="]
        pair = f"{label(a)} vs {label(b)}"
        if not said:
            lines.append((pair, ["n/a (no runs without error to compare)"]))
        elif not winners:
            lines.append((pair, ["no clear difference at any latency measured"]))
        elif len(set(winners)) == 1 and len(winners) == len(said):
            lines.append((pair, [f"{label(winners[0])} faster at every latency measured "
                                 f"({Latency(latencies[0]).text()} to {Latency(latencies[-1]).text()})"]))
        else:
            steps = "; ".join(f"{Latency(ms).text()} " + ("no clear difference" if v == "=" else f"{label(v)} faster")
                              for ms, v in said)
            flips = [(m1, m2) for (m1, v1), (m2, v2) in zip(said, said[1:]) if "=" not in (v1, v2) and v1 != v2]
            where = "; the order changes " + ", ".join(
                f"between {Latency(m1).text()} and {Latency(m2).text()}" for m1, m2 in flips) if flips else ""
            lines.append((pair, [f"{steps}{where}"]))
    note = " (one run each: by the means, without an interval; use --runs 3 or more)" if single else ""
    return Table(["Pair", "Faster by wall time"], lines,
                 title=f"Where each pair's order changes, by the Welch interval of the difference{note}:")
