"""A verdict per claim: which way of orchestrating tool calls is ahead, by how much, with its 95% interval.

The study's question is code orchestration (the model's code loops over the tools: RLM Direct, its call_many
variant, smolagents' CodeAgent) against step-wise calls (one model turn per call or per batch of calls: ReAct,
ReActV2, the hybrid's executor, smolagents' ToolCallingAgent). For each claim the verdict compares the best arm of
each kind on the claim's own number per run (claims.Claim.measure) with Welch's interval of the difference; an
interval that excludes 0 is a clear difference, anything else is "no clear difference" (one run each gives no
interval, so no verdict). Your own agents (--agent) are of no known kind and are left out.

When two frameworks each ran an arm of both kinds, a last line says whether they rank the kinds the same way: a
conclusion that holds in one framework only is about that framework's prompts and executors, not the architecture.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from rlmbench.report.claims import CLAIMS, Claim, exercised
from rlmbench.report.stats import difference_interval
from rlmbench.results.meta import Arm, RunMeta
from rlmbench.results.records import RunRecord
from rlmbench.tasks.task import TaskSchema

CODE, STEPS = "code", "step-wise"
VERDICT_TITLE = "Verdict, per claim: the best code-orchestrated arm against the best step-wise arm, 95% Welch interval:"


def kind_of(arm: Arm) -> str | None:
    """`code` where the model's code makes the tool calls, `step-wise` where each model turn does; None for an arm of
    no known framework (your agent)."""
    if arm.framework is None:
        return None
    return CODE if arm.runs_code and not arm.one_call_per_check else STEPS


@dataclass(frozen=True)
class Comparison:
    claim: Claim
    code: str
    steps: str
    """The two arms compared (the best of each kind on this claim)."""
    code_mean: float
    steps_mean: float
    low: float | None
    high: float | None
    """Welch's 95% interval of code - steps; None: a side had one run."""

    @property
    def ahead(self) -> str | None:
        """CODE, STEPS, or None for no clear difference (or no interval)."""
        if self.low is None or self.high is None or self.low <= 0 <= self.high:
            return None
        code_higher = self.low > 0
        return CODE if code_higher == self.claim.higher_is_better else STEPS


def _values(claim: Claim, records: list[RunRecord], arm: str) -> list[float]:
    return [v for r in records if r.approach == arm and (v := claim.measure(r)) is not None]


def _best(claim: Claim, records: list[RunRecord], arms: list[str]) -> tuple[str, list[float]] | None:
    measured = [(a, v) for a in arms if (v := _values(claim, records, a))]
    if not measured:
        return None
    pick = max if claim.higher_is_better else min
    return pick(measured, key=lambda pair: statistics.fmean(pair[1]))


def compare(claim: Claim, records: list[RunRecord], code_arms: list[str], step_arms: list[str]) -> Comparison | None:
    """The best code arm against the best step-wise arm on one claim; None where a side has no number."""
    code, steps = _best(claim, records, code_arms), _best(claim, records, step_arms)
    if code is None or steps is None:
        return None
    diff = difference_interval(code[1], steps[1])
    return Comparison(claim, code[0], steps[0], statistics.fmean(code[1]), statistics.fmean(steps[1]),
                      diff.low, diff.high)


def _amount(claim: Claim, value: float) -> str:
    if claim.unit == "tokens":
        return f"{value:,.0f}"
    if claim.unit == "s":
        return f"{value:.2f} s"
    return f"{value * 100:.0f} points" if claim.unit == "share" else f"{value:g}"


def _shown(claim: Claim, value: float) -> str:
    return f"{value:.0%}" if claim.unit == "share" else _amount(claim, value)


def verdict_line(c: Comparison, meta: RunMeta) -> str:
    code, steps = meta.label(c.code), meta.label(c.steps)
    both = f"{code} {_shown(c.claim, c.code_mean)} vs {steps} {_shown(c.claim, c.steps_mean)} {c.claim.measured}"
    if c.low is None:
        return f"{c.claim.name}: no verdict, one run of an arm gives no interval ({both})."
    unit = {"s": " s", "share": " points"}.get(c.claim.unit, "")
    interval = (f"[{_amount(c.claim, c.low).removesuffix(unit)}, {_amount(c.claim, c.high).removesuffix(unit)}]"
                + unit.replace(" ", "\N{NO-BREAK SPACE}"))  # the unit stays beside its interval when the line wraps
    if c.ahead is None:
        return f"{c.claim.name}: no clear difference ({both}; difference {interval})."
    gap = abs(c.code_mean - c.steps_mean)
    return (f"{c.claim.name}: {c.ahead} ahead, by {_amount(c.claim, gap)} {c.claim.measured} ({both}; code - "
            f"step-wise {interval}).")


def _frameworks(meta: RunMeta, arms: list[str]) -> dict[str, dict[str, list[str]]]:
    """framework -> kind -> its arms that ran."""
    out: dict[str, dict[str, list[str]]] = {}
    for arm in meta.arms:
        if arm.name in arms and (kind := kind_of(arm)) is not None:
            out.setdefault(arm.framework, {CODE: [], STEPS: []})[kind].append(arm.name)
    return out


def _agreement(claim: Claim, records: list[RunRecord], both: dict[str, dict[str, list[str]]]) -> str:
    said = {name: compare(claim, records, kinds[CODE], kinds[STEPS]) for name, kinds in both.items()}
    words = {name: ("no verdict" if c is None or c.low is None else
                    f"{c.ahead} ahead" if c.ahead else "no clear difference") for name, c in said.items()}
    if len(set(words.values())) == 1:
        word = next(iter(words.values()))
        return f"{word} in " + " and in ".join(words)
    return "the frameworks disagree (" + "; ".join(f"{name}: {word}" for name, word in words.items()) + ")"


def verdict(records: list[RunRecord], meta: RunMeta, schema: TaskSchema) -> list[str]:
    """The verdict's lines: one per claim the runs exercise, then whether the frameworks agree; [] where the runs
    hold no arm of one kind."""
    arms = sorted({r.approach for r in records}, key=meta.approaches.index)
    frameworks = _frameworks(meta, arms)
    code_arms = [a for kinds in frameworks.values() for a in kinds[CODE]]
    step_arms = [a for kinds in frameworks.values() for a in kinds[STEPS]]
    if not code_arms or not step_arms:
        return []
    both = {name: kinds for name, kinds in frameworks.items() if kinds[CODE] and kinds[STEPS]}
    lines = []
    for claim in CLAIMS:
        if not exercised(claim, records, meta, schema):
            continue
        c = compare(claim, records, code_arms, step_arms)
        if c is None:
            continue
        line = verdict_line(c, meta)
        if len(both) > 1:
            line += f" Across frameworks: {_agreement(claim, records, both)}."
        lines.append(line)
    return lines
