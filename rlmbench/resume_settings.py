"""`--resume FILE` continues with the settings its log holds, not the command line's defaults.

A flag the user gives again must agree with the log (results_files.check_resumable refuses it in
one line otherwise), except the ones that extend a comparison: more `--runs`, other
`--approaches`, and `--model`/`--models` entries with new labels, which add models to it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rlmbench.models import ModelSettings
from rlmbench.results_files import ResultsFiles
from rlmbench.task_file import builtin_names

_MODEL_FIELDS = ("label", "model", "api_base", "api_key_env", "max_tokens", "retries", "timeout",
                 "tokens_per_minute", "concurrency", "price_in", "price_out")


def explicit_flags(argv: list[str]) -> set[str]:
    """The long flags the user typed, as argparse destinations (`--react-max-iters=5` -> react_max_iters)."""
    return {a[2:].split("=", 1)[0].replace("-", "_") for a in argv if a.startswith("--")}


def task_argument(task_meta: dict) -> str:
    """How to load the log's task again: a built-in by name, a user's file by its path."""
    name = task_meta["name"]
    if task_meta["source"] == f"tasks/{name}.toml" and name in builtin_names():
        return name
    return task_meta["source"]


def log_meta(path: Path) -> dict:
    """The settings an earlier invocation wrote (ResumeError when the log cannot be continued)."""
    meta, _ = ResultsFiles.for_resume(path).load_for_resume()
    return meta


def apply_log_settings(args: argparse.Namespace, meta: dict, given: set[str]) -> list[ModelSettings]:
    """Fill every setting the user did not give from the log; return the log's models."""
    settings = meta["settings"]
    from_log = {
        "task": task_argument(meta["task"]),
        "runs": meta["runs"],
        "approaches": tuple(meta["approaches"]) + tuple(meta.get("skipped") or ()),
        "react_max_iters": settings["react_max_iters"] if isinstance(settings["react_max_iters"], int) else None,
        "rlm_max_iters": settings["rlm_max_iters"],
        "rlm_max_llm_calls": settings["rlm_max_llm_calls"],
        "answer": settings["answer_form"],
        "timeout": meta.get("run_timeout_s"),
        "react_limit": meta.get("react_limit", args.react_limit),
        "cold_sandbox": str(meta.get("sandbox") or "").startswith("cold"),
    }
    for dest, value in from_log.items():
        if dest not in given:
            setattr(args, dest, value)
    return [ModelSettings(**{k: entry.get(k) for k in _MODEL_FIELDS if entry.get(k) is not None})
            for entry in meta.get("models", [])]
