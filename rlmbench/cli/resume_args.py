"""`--resume FILE` continues with the settings its log holds, not the command line's defaults.

A flag the user gives again must agree with the log (results.files.check_resumable refuses it in
one line otherwise), except the ones that extend a comparison: more `--runs`, other
`--approaches`, and `--model`/`--models` entries with new labels, which add models to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlmbench.lm.settings import ModelSettings
from rlmbench.results.files import ResultsFiles
from rlmbench.results.meta import RunMeta


def explicit_flags(argv: list[str]) -> set[str]:
    """The long flags the user typed, as argparse destinations (`--react-max-iters=5` -> react_max_iters)."""
    return {a[2:].split("=", 1)[0].replace("-", "_") for a in argv if a.startswith("--")}


def log_meta(path: Path) -> RunMeta:
    """The header an earlier invocation wrote (ResumeError when the log cannot be continued)."""
    meta, _ = ResultsFiles.for_resume(path).load_for_resume()
    return meta


def apply_log_settings(args: argparse.Namespace, meta: RunMeta, given: set[str]) -> list[ModelSettings]:
    """Fill every setting the user did not give from the log; return the log's models."""
    settings = meta.settings
    from_log = {
        "task": meta.task.load_argument(),
        "runs": meta.runs,
        "approaches": tuple(meta.approaches) + tuple(meta.skipped),
        "react_max_iters": settings.react_max_iters,
        "rlm_max_iters": settings.rlm_max_iters,
        "rlm_max_llm_calls": settings.rlm_max_llm_calls,
        "answer": settings.answer_form,
        "timeout": meta.run_timeout_s,
        "react_limit": meta.react_limit,
        "cold_sandbox": bool(meta.cold_sandbox),
        "seed": meta.tools.seed,
        "tool_latency": ((meta.tools.latency_override_ms,) if meta.tools.latency_override_ms is not None
                         else tuple(meta.tools.latency_sweep_ms) or None),
        "tool_faults": meta.tools.failure_rate_override,
        "tool_answer_tokens": ((meta.tools.answer_tokens_override,) if meta.tools.answer_tokens_override is not None
                               else tuple(meta.tools.answer_tokens_sweep) or None),
    }
    for dest, value in from_log.items():
        if dest not in given:
            setattr(args, dest, value)
    return [model.settings() for model in meta.models]
