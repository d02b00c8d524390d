"""`rlmbench gepa`: compile the RLM agent with dspy.GEPA against a deterministic tool-call coverage metric.

    rlmbench gepa --dry-run                                                 # no LLM call
    rlmbench gepa --program-model oracle --reflection-model oracle --max-metric-calls 6
    rlmbench gepa --max-metric-calls 6 --metric coverage                    # Groq, needs GROQ_API_KEY

The built-in tasks hold SIMULATED DATA: never use them for clinical or any other real decisions.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from rlmbench.cli.args import (
    add_provider_args,
    add_rlm_limit_args,
    add_task_arg,
    load_task_arg,
    model_settings,
    non_negative_int,
    positive_int,
)
from rlmbench.exits import EXIT_CONFIG
from rlmbench.gepa.compile import CompileSettings, run
from rlmbench.lm.settings import DEFAULT_MODEL


def build_parser(prog: str | None = None, description: str = __doc__) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_task_arg(parser)
    parser.add_argument("--dry-run", action="store_true",
                        help="build the datasets, program and metric, score one hand-made prediction, print the "
                             "configuration and budget, and exit without any LM call")
    parser.add_argument("--program-model", default=DEFAULT_MODEL, help=f"model the RLM runs on (default {DEFAULT_MODEL})")
    parser.add_argument("--reflection-model", default=DEFAULT_MODEL,
                        help=f"model GEPA reflects and proposes instructions with (default {DEFAULT_MODEL})")
    add_provider_args(parser, "OpenAI-compatible server for both models")
    parser.add_argument("--metric", choices=("coverage", "semantic_f1"), default="coverage",
                        help="coverage: deterministic, from the tool calls (default); semantic_f1: DSPy's SemanticF1 "
                             "judged by the reflection model (costs LM calls)")
    parser.add_argument("--max-metric-calls", type=positive_int, default=12,
                        help="GEPA's budget: program runs it may score (default 12; auto='light' means hundreds)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed for the cases and GEPA (default 0)")
    parser.add_argument("--log-dir", type=Path,
                        help="GEPA's run directory: run again with the same one to resume an interrupted compile")
    parser.add_argument("--output", type=Path, default=Path("compiled/rlm_gepa.json"),
                        help="where the compiled program is saved (default compiled/rlm_gepa.json)")
    add_rlm_limit_args(parser)
    return parser


def main(argv: list[str] | None = None, prog: str | None = None, description: str = __doc__) -> int:
    args = build_parser(prog, description).parse_args(argv)
    task = load_task_arg(args.task)
    if task is None:
        return EXIT_CONFIG
    load_dotenv(find_dotenv(usecwd=True))

    return run(CompileSettings(
        task=task,
        program=model_settings(args, args.program_model),
        reflection=model_settings(args, args.reflection_model),
        metric=args.metric,
        max_metric_calls=args.max_metric_calls,
        seed=args.seed,
        log_dir=args.log_dir,
        output=args.output,
        dry_run=args.dry_run,
        rlm_max_iters=args.rlm_max_iters,
        rlm_max_llm_calls=args.rlm_max_llm_calls,
    ))
