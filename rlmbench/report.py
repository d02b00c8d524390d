"""The summary a user reads and pastes into a report, and the results file a script reads.

Every number printed here is computed from the run records of this invocation; a figure
that was not measured is shown as "n/a", never estimated.
"""

from __future__ import annotations

import statistics
from collections import Counter

from rlmbench.approaches import APPROACH_LABELS
from rlmbench.runner import RunRecord


def required_checks(record: RunRecord) -> int:
    return record.coverage["pairs_required"] + record.coverage["conditions_required"]


def covered_share(record: RunRecord) -> float:
    """The share of the required checks the run really made (0 to 1)."""
    c = record.coverage
    return (c["pairs_covered"] + c["conditions_covered"]) / max(1, required_checks(record))


def _mean_sd(values: list[float], unit: str = "s", digits: int = 2) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.{digits}f} {unit} (n=1, no sd)"
    return f"{mean:.{digits}f} +/- {statistics.stdev(values):.{digits}f} {unit}"


def _per_run(records: list[RunRecord], covered: str, required: str) -> str:
    if not records:
        return "n/a"
    return ", ".join(
        f"{r.coverage[covered]}/{r.coverage[required]}" + ("" if r.ok else "*") for r in records
    )


def _mean_int(values: list[int]) -> str:
    if not values:
        return "n/a"
    mean = statistics.fmean(values)
    low, high = min(values), max(values)
    return f"{mean:,.0f}" if low == high else f"{mean:,.0f} ({low:,}-{high:,})"


def _sandbox_boot(records: list[RunRecord]) -> str:
    boots = [r.sandbox_boot_s for r in records if r.sandbox_boot_s is not None]
    if not boots:
        return "n/a (no sandbox)"
    inside = any(r.sandbox_boot_in_wall_time for r in records)
    return f"{_mean_sd(boots)}, {'in' if inside else 'not in'} wall time"


def notable_failure(records: list[RunRecord]) -> str:
    failures = [r.failure for r in records if r.failure]
    if not failures:
        return "none"
    category, count = Counter(f["category"] for f in failures).most_common(1)[0]
    example = next(f for f in failures if f["category"] == category)
    message = " ".join(example["message"].split())[:90]
    return f"{category} x{count}: {example['type']}: {message}"


def _ratio_cell(records: list[RunRecord], key: str) -> str:
    """Mean of a per-run ratio over the runs that have one, as a percentage; n/a when none do."""
    values = [r.findings[key] for r in records if r.findings and r.findings.get(key) is not None]
    if not values:
        return "n/a"
    return f"{100 * statistics.fmean(values):.0f}%" + ("" if len(values) == len(records) else f" ({len(values)} runs)")


def _pair_cell(records: list[RunRecord], first: str, second: str) -> str:
    a, b = _ratio_cell(records, first), _ratio_cell(records, second)
    return "n/a" if a == b == "n/a" else f"{a} / {b}"


def _risk_cell(records: list[RunRecord]) -> str:
    scored = [r.findings for r in records if r.findings]
    if not scored:
        return "n/a"
    return f"{sum(f['overall_risk'] == f['expected_risk'] for f in scored)} / {len(scored)}"


def _count_cell(records: list[RunRecord], key: str) -> str:
    values = [r.findings[key] for r in records if r.findings]
    return _mean_int(values) if values else "n/a"


def _largest_prompt(records: list[RunRecord]) -> str:
    return _mean_int([max(c["prompt_tokens"] for c in r.usage_per_call) for r in records if r.usage_per_call])


def failure_counts(records: list[RunRecord]) -> str:
    counts = Counter(r.failure["category"] for r in records if r.failure)
    return ", ".join(f"{category} {n}" for category, n in counts.most_common()) or "none"


def summary_rows(records: list[RunRecord], approaches: list[str], paced: bool = False) -> list[tuple[str, list[str]]]:
    by = {a: [r for r in records if r.approach == a] for a in approaches}
    ok = {a: [r for r in by[a] if r.ok] for a in approaches}
    rows = [
        ("Wall time, successful runs", [_mean_sd([r.wall_time_s for r in ok[a]]) for a in approaches]),
        ("Sandbox boot per run", [_sandbox_boot(by[a]) for a in approaches]),
        ("Successful runs", [f"{len(ok[a])} / {len(by[a])}" for a in approaches]),
        ("Pairwise coverage", [_per_run(by[a], "pairs_covered", "pairs_required") for a in approaches]),
        ("Contraindication coverage",
         [_per_run(by[a], "conditions_covered", "conditions_required") for a in approaches]),
        ("Hit iteration limit", [f"{sum(r.finished is False for r in by[a])} / {len(by[a])}" for a in approaches]),
        ("Tool calls per run", [_mean_int([r.coverage["tool_calls"] for r in by[a]]) for a in approaches]),
        ("LM calls per run", [_mean_int([r.lm_calls for r in by[a]]) for a in approaches]),
        ("Prompt tokens per run", [_mean_int([r.prompt_tokens for r in by[a]]) for a in approaches]),
        ("Completion tokens per run", [_mean_int([r.completion_tokens for r in by[a]]) for a in approaches]),
        ("Largest prompt of a run", [_largest_prompt(by[a]) for a in approaches]),
        ("Interactions: recall / precision",
         [_pair_cell(ok[a], "interaction_recall", "interaction_precision") for a in approaches]),
        ("Severity agreement", [_ratio_cell(ok[a], "severity_agreement") for a in approaches]),
        ("Contraindications: recall / prec.",
         [_pair_cell(ok[a], "contraindication_recall", "contraindication_precision") for a in approaches]),
        ("Claimed safe, never checked", [_count_cell(ok[a], "claimed_safe_never_checked") for a in approaches]),
        ("Overall risk level right", [_risk_cell(ok[a]) for a in approaches]),
        ("Failures by category", [failure_counts(by[a]) for a in approaches]),
        ("Notable failure", [notable_failure(by[a]) for a in approaches]),
    ]
    if paced:  # --tpm: the wait is inside the wall time, so show how much of it there was
        rows.insert(1, ("Pacing wait (--tpm), in wall time",
                        [_mean_sd([r.pacing_wait_s for r in ok[a]]) for a in approaches]))
    return rows


def render_table(header: list[str], rows: list[tuple[str, list[str]]]) -> str:
    widths = [max(len(header[0]), *(len(label) for label, _ in rows))]
    for i in range(1, len(header)):
        widths.append(max(len(header[i]), *(len(cells[i - 1]) for _, cells in rows)))
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(header), line(["-" * w for w in widths])]
    out += [line([label, *cells]) for label, cells in rows]
    return "\n".join(out)


def render_summary(records: list[RunRecord], approaches: list[str], meta: dict, notices: list[str]) -> str:
    header = ["Metric", *(APPROACH_LABELS.get(a, a) for a in approaches)]
    parts = [
        f"Model: {meta['model']['model']}   runs per approach: {meta['runs']}   DSPy {meta['dspy_version']}",
        "",
        render_table(header, summary_rows(records, approaches, paced=bool(meta["model"].get("tokens_per_minute")))),
        "",
        "* failed run (coverage counts the checks it made before failing)",
        *notices,
    ]
    return "\n".join(parts)
