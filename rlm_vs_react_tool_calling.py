"""Benchmark: ReAct vs RLM Direct vs RLM-planner + ReAct-executor vs ReActV2 on a simulated drug database.

    uv run python rlm_vs_react_tool_calling.py --model oracle --runs 3           # offline
    uv run python rlm_vs_react_tool_calling.py --runs 3                          # Groq, needs GROQ_API_KEY
    uv run python rlm_vs_react_tool_calling.py --model oracle --scale --plot     # scale sweep and charts

SIMULATED DATA - not medical advice; never use it for clinical decisions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import rlmbench  # noqa: F401  (sets the offline environment before DSPy loads)
from dotenv import find_dotenv, load_dotenv

from rlmbench.approaches import APPROACHES, ApproachConfig
from rlmbench.cli_args import (
    add_provider_args,
    add_rlm_limit_args,
    model_settings,
    non_negative_int,
    positive_int,
    positive_seconds,
)
from rlmbench.benchmark import BenchmarkSettings, run
from rlmbench.models import DEFAULT_MODEL
from rlmbench.sweep import DEFAULT_REACT_LIMIT
from rlmbench.synthetic import DEFAULT_SWEEP, parse_sizes


def approach_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in APPROACHES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown approach {', '.join(unknown) or '(none)'}; choose from {', '.join(APPROACHES)}"
        )
    return names


def size_list(text: str):
    try:
        return parse_sizes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=positive_int, default=3, help="uncached runs per approach (default 3)")
    parser.add_argument("--model", default=DEFAULT_MODEL,
                        help=f"DSPy/LiteLLM model string, or 'oracle' for the offline model (default {DEFAULT_MODEL})")
    add_provider_args(parser, "base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio)")
    parser.add_argument("--approaches", type=approach_list, default=APPROACHES,
                        help=f"comma-separated subset of {','.join(APPROACHES)} (default: all)")
    parser.add_argument("--react-max-iters", type=positive_int, default=40,
                        help="ReAct step limit; 35 checks need at least 36 (default 40; DSPy's own default is 20)")
    add_rlm_limit_args(parser)
    parser.add_argument("--cold-sandbox", action="store_true",
                        help="boot each RLM sandbox inside its run's wall time instead of from a warm pool")
    parser.add_argument("--timeout", type=positive_seconds,
                        help="wall-time budget per run in seconds: a run still going is recorded as 'timeout' and "
                             "stopped, and the benchmark goes on (default: none)")
    parser.add_argument("--tpm", type=positive_int,
                        help="pace LM calls to stay under this many tokens per minute (for example a provider's "
                             "free-tier limit); the wait is part of the wall time and shown in the summary")
    parser.add_argument("--concurrency", type=positive_int, default=1,
                        help="runs executed at once, each with its own sandbox (default 1; latency under "
                             "concurrency is not comparable to sequential runs)")
    parser.add_argument("--resume", type=Path, metavar="FILE",
                        help="continue an earlier invocation from its results .jsonl (or .json): runs already "
                             "recorded are skipped, new ones are appended to the same files")
    parser.add_argument("--scale", type=size_list, nargs="?", const=DEFAULT_SWEEP, metavar="SIZES",
                        help="scale sweep on generated patients instead of the default one: comma-separated "
                             "DRUGSxCONDITIONS sizes (bare --scale: "
                             + ",".join(str(s) for s in DEFAULT_SWEEP) + ")")
    parser.add_argument("--sweep-react-limit", type=positive_int, default=DEFAULT_REACT_LIMIT, metavar="CHECKS",
                        help="in a sweep, skip one-call-per-check approaches (ReAct, hybrid) above this many "
                             f"required checks (default {DEFAULT_REACT_LIMIT})")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="seed of the sweep's generated databases")
    parser.add_argument("--plot", action="store_true", help="also write PNG charts next to the results file")
    parser.add_argument("--output", type=Path, help="results JSON path (default results/results_<time>_<model>.json)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.resume and args.output:
        print("error: --resume writes to the files it continues; leave out --output", file=sys.stderr)
        return 2
    if args.resume and args.scale:
        print("error: --resume continues the default benchmark, not a --scale sweep; run the sweep again",
              file=sys.stderr)
        return 2
    load_dotenv(find_dotenv(usecwd=True))  # the .env of the directory the user runs from
    settings = BenchmarkSettings(
        model=model_settings(args, args.model, timeout=args.timeout, tokens_per_minute=args.tpm),
        approaches=args.approaches,
        runs=args.runs,
        approach_config=ApproachConfig(react_max_iters=args.react_max_iters, rlm_max_iters=args.rlm_max_iters,
                                       rlm_max_llm_calls=args.rlm_max_llm_calls),
        output=args.output,
        cold_sandbox=args.cold_sandbox,
        timeout=args.timeout,
        concurrency=args.concurrency,
        resume=args.resume,
        sweep=args.scale,
        sweep_react_limit=args.sweep_react_limit,
        seed=args.seed,
        plot=args.plot,
    )
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
