"""`rlmbench run`: ReAct vs RLM Direct vs RLM-planner + ReAct-executor vs ReActV2 on a task of checks.

    rlmbench run --model oracle --runs 3             # offline, the drug task
    rlmbench run --task compliance --model oracle    # another task
    rlmbench run --runs 3                            # Groq, needs GROQ_API_KEY
    rlmbench run --model oracle --scale --plot       # scale sweep and charts

The built-in tasks hold SIMULATED DATA: never use them for clinical or any other real decisions.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dotenv import find_dotenv, load_dotenv

from rlmbench.agents.approach import DEFAULT_REACT_LIMIT, STEP_HEADROOM, ApproachConfig
from rlmbench.agents.external import AgentSpecError, agent_approach, load_agent
from rlmbench.agents.registry import APPROACHES, DEFAULT_APPROACHES, register
from rlmbench.cli.args import (
    add_provider_args,
    add_rlm_limit_args,
    add_task_arg,
    failure_rate,
    latency_list,
    load_task_arg,
    model_settings,
    non_negative_float,
    non_negative_int,
    positive_int,
    positive_seconds,
    token_list,
)
from rlmbench.cli.resume_args import apply_log_settings, explicit_flags, log_meta
from rlmbench.cli.tasks_cmd import render_task_list
from rlmbench.exits import EXIT_CONFIG
from rlmbench.lm.models_file import ModelsFileError, merge_models, model_list
from rlmbench.lm.settings import DEFAULT_MODEL
from rlmbench.results.files import ResumeError
from rlmbench.run.benchmark import BenchmarkSettings, run
from rlmbench.tasks.prompt import ANSWER_FORMS
from rlmbench.tasks.synthetic import sweep_sizes

BARE_SCALE = "default"


def approach_list(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip().lower() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in APPROACHES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown approach {', '.join(unknown) or '(none)'}; choose from {', '.join(APPROACHES)}"
        )
    return names


def register_agents(given: list[str]) -> list[str]:
    """Each --agent as an arm of this invocation, in the registry beside the built-ins; their names."""
    names: list[str] = []
    for spec in given:
        name, function = load_agent(spec, set(APPROACHES) | set(names))
        register(agent_approach(name, function, spec.partition("=")[2]))
        names.append(name)
    return names


def build_parser(prog: str | None = None, description: str = __doc__) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_task_arg(parser)
    parser.add_argument("--list-tasks", action="store_true",
                        help="list the built-in tasks (lists, sizes, required checks) and exit")
    parser.add_argument("--runs", type=positive_int, default=3, help="uncached runs per approach (default 3)")
    parser.add_argument("--model", action="append", dest="models",
                        help="DSPy/LiteLLM model string, or 'oracle' for the offline model; repeat it to compare "
                             f"models in one invocation (default {DEFAULT_MODEL})")
    parser.add_argument("--models", type=Path, dest="models_file", metavar="FILE",
                        help="a TOML file of [[models]] entries (label, model, api_base, api_key_env, max_tokens, "
                             "concurrency, price_in, price_out): for models that need their own server or key")
    parser.add_argument("--price-in", type=non_negative_float, metavar="USD",
                        help="dollars per million prompt tokens for the --model models (default: LiteLLM's price map)")
    parser.add_argument("--price-out", type=non_negative_float, metavar="USD",
                        help="dollars per million completion tokens for the --model models")
    add_provider_args(parser, "base URL of an OpenAI-compatible server (vLLM, Ollama, llama.cpp, LM Studio)")
    parser.add_argument("--approaches", type=approach_list, default=DEFAULT_APPROACHES,
                        help=f"comma-separated subset of {','.join(APPROACHES)} (default: "
                             f"{','.join(DEFAULT_APPROACHES)}; rlm_batch adds a batch primitive that is not "
                             f"DSPy's; smol_code and smol_tools are smolagents' CodeAgent and ToolCallingAgent)")
    parser.add_argument("--agent", action="append", default=[], metavar="NAME=SPEC",
                        help="your own agent as an arm beside --approaches, repeatable: SPEC is module:function or "
                             "path/to/file.py:function, called with the task, its tools and an OpenAI-compatible "
                             "endpoint that meters its LM calls (docs/your-own-agent.md)")
    parser.add_argument("--react-max-iters", type=positive_int,
                        help="the step limit of every step-wise arm: ReAct's steps, ReActV2's turns, the hybrid "
                             "executor's steps (default: the tool calls a perfect agent makes, each required check "
                             "and follow-up once and each check drawn to fail once more, plus "
                             f"{STEP_HEADROOM}: 40 for drugs, 51 for drugs_realistic; DSPy's own default is 20)")
    parser.add_argument("--react-limit", "--sweep-react-limit", dest="react_limit", type=positive_int,
                        default=DEFAULT_REACT_LIMIT, metavar="CHECKS",
                        help="skip approaches that make one LM call per check (ReAct, hybrid) on a task or sweep "
                             f"size with more required checks than this (default {DEFAULT_REACT_LIMIT})")
    add_rlm_limit_args(parser)
    parser.add_argument("--answer", choices=ANSWER_FORMS, default="structured",
                        help="structured: the typed findings and the narrative (default); prose: the narrative "
                             "only, the study's own form (findings rows n/a; coverage and tokens still measured)")
    parser.add_argument("--cold-sandbox", action="store_true",
                        help="boot each RLM sandbox inside its run's wall time, DSPy's stock way, instead of from "
                             "the warm pool's Pyodide memory snapshot")
    parser.add_argument("--timeout", type=positive_seconds,
                        help="wall-time budget per run in seconds: a run still going is recorded as 'timeout' and "
                             "stopped, and the benchmark goes on (default: none)")
    parser.add_argument("--tpm", type=positive_int,
                        help="pace LM calls to stay under this many tokens per minute (for example a provider's "
                             "free-tier limit); the wait is part of the wall time and shown in the summary")
    parser.add_argument("--concurrency", type=positive_int, default=1,
                        help="runs of one --model executed at once, each with its own sandbox (default 1; latency "
                             "under concurrency is not comparable to sequential runs); different models always "
                             "run side by side")
    parser.add_argument("--resume", type=Path, metavar="FILE",
                        help="continue an earlier invocation from its results .jsonl (or .json): runs already "
                             "recorded are skipped, new ones are appended to the same files")
    parser.add_argument("--scale", nargs="?", const=BARE_SCALE, metavar="SIZES",
                        help="scale sweep on generated cases of the task instead of its own lists: comma-separated "
                             "sizes, one length per list (16x6 = 16 medications x 6 conditions for drugs), 'default' "
                             "for the task's own sizes, '10k' for a size with at least 10,000 required checks; bare "
                             "--scale: the task's default sizes")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the sweep's generated tasks and of the tools' draws (which wait each check "
                             "gets) (default 0)")
    parser.add_argument("--tool-latency", type=latency_list, metavar="MS[,MS...]",
                        help="every tool call takes MS milliseconds (real time, as a service's round trip) instead "
                             "of the task's own latency (default: the task's; drugs_realistic has 80 +/- 40 ms, the "
                             "other built-in tasks none); several values (0,25,100) run the whole comparison at each "
                             "and show where each pair of arms changes order")
    parser.add_argument("--tool-answer-tokens", type=token_list, metavar="N[,N...]",
                        help="every table tool's answers carry about N tokens of detail beside their finding (the "
                             "task's own sentences, the finding unchanged) instead of the task's own size (default: "
                             "the task's; drugs_realistic has 400, the other built-in tasks none); several values "
                             "(0,2000) run the whole comparison at each and show how each arm's tokens grow, and "
                             "where an arm first overflows the model's context window")
    parser.add_argument("--tool-faults", type=failure_rate, metavar="RATE",
                        help="the share of checks (0 to below 1, drawn by --seed) whose first call fails with a "
                             "transient error, as a real service's timeout or 503, instead of the task's own rate "
                             "(default: the task's; drugs_realistic has 10%%, the other built-in tasks none)")
    parser.add_argument("--plot", action="store_true", help="also write PNG charts next to the results file")
    parser.add_argument("--html", type=Path, metavar="PATH",
                        help="the HTML report's path (default: next to the results JSON, .html); rebuild the page "
                             "of an earlier invocation with `rlmbench report`")
    parser.add_argument("--output", type=Path,
                        help="results JSON path (default results/results_<time>_<task>_<model>.json)")
    return parser


def main(argv: list[str] | None = None, prog: str | None = None, description: str = __doc__) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(prog, description).parse_args(argv)
    if args.list_tasks:
        print(render_task_list())
        return 0
    if args.resume and args.output:
        print("error: --resume writes to the files it continues; leave out --output", file=sys.stderr)
        return EXIT_CONFIG
    if args.resume and args.scale:
        print("error: --resume continues the benchmark, not a --scale sweep; run the sweep again", file=sys.stderr)
        return EXIT_CONFIG
    swept = [flag for flag, values in (("--tool-latency", args.tool_latency),
                                       ("--tool-answer-tokens", args.tool_answer_tokens)) if values and len(values) > 1]
    if args.scale and swept:
        print(f"error: {swept[0]}: a scale sweep runs at one value; give one value with --scale", file=sys.stderr)
        return EXIT_CONFIG
    if len(swept) > 1:
        print("error: sweep one tool behaviour at a time: several values for --tool-latency or for "
              "--tool-answer-tokens, not both", file=sys.stderr)
        return EXIT_CONFIG
    logged_models = []
    if args.resume:  # continue with the log's own settings; flags given again must agree with it
        try:
            logged_models = apply_log_settings(args, log_meta(args.resume), explicit_flags(argv))
        except ResumeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        if any(v and len(v) > 1 for v in (args.tool_latency, args.tool_answer_tokens)):
            print("error: --resume continues a single comparison, not a --tool-latency or --tool-answer-tokens "
                  "sweep; run the sweep again", file=sys.stderr)
            return EXIT_CONFIG
    task = load_task_arg(args.task)
    if task is None:
        return EXIT_CONFIG
    if args.tool_answer_tokens and all(t.user_code for t in task.schema.tools):
        print("error: --tool-answer-tokens sizes the task's own answers; every tool of this task is your own code, "
              "whose answers are the size they are", file=sys.stderr)
        return EXIT_CONFIG
    try:
        agents = register_agents(args.agent)
    except AgentSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    unknown = [a for a in args.approaches if a not in APPROACHES and a not in agents]
    if unknown:  # only a resumed log names an arm that is neither built in nor given: your agent, run before
        print(f"error: --resume: the invocation ran your agent {unknown[0]!r}; give --agent {unknown[0]}=SPEC again "
              f"to continue it", file=sys.stderr)
        return EXIT_CONFIG
    try:
        sweep = None if args.scale is None else sweep_sizes(task.schema, None if args.scale == BARE_SCALE
                                                            else args.scale)
    except ValueError as exc:
        print(f"error: --scale: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if (args.price_in is None) != (args.price_out is None):
        print("error: give both --price-in and --price-out, or neither", file=sys.stderr)
        return EXIT_CONFIG
    defaults = model_settings(args, DEFAULT_MODEL, timeout=args.timeout, tokens_per_minute=args.tpm,
                              concurrency=args.concurrency, price_in=args.price_in, price_out=args.price_out)
    try:
        given = model_list(args.models or [], args.models_file, defaults)
        models = merge_models(logged_models, given) if args.resume else (
            given or model_list([DEFAULT_MODEL], None, defaults))
    except ModelsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    load_dotenv(find_dotenv(usecwd=True))  # the .env of the directory the user runs from
    settings = BenchmarkSettings(
        task=task,
        models=tuple(models),
        approaches=tuple(dict.fromkeys((*args.approaches, *agents))),
        runs=args.runs,
        approach_config=ApproachConfig(react_max_iters=args.react_max_iters, rlm_max_iters=args.rlm_max_iters,
                                       rlm_max_llm_calls=args.rlm_max_llm_calls, answer_form=args.answer),
        output=args.output,
        cold_sandbox=args.cold_sandbox,
        timeout=args.timeout,
        resume=args.resume,
        sweep=sweep,
        react_limit=args.react_limit,
        seed=args.seed,
        tool_latency_ms=args.tool_latency,
        tool_answer_tokens=args.tool_answer_tokens,
        tool_failure_rate=args.tool_faults,
        plot=args.plot,
        html=args.html,
    )
    return run(settings)
