"""The benchmark command, step by step: check the setup, write the header, run (saving as each run
finishes), then print the summary and write the page.

Each step is a function below, in the order `run` calls them; the data flows one way, from the
settings to the header (`RunMeta`), to the records, to the summary.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import os
import platform
import re
import shlex
import sys
import textwrap
from dataclasses import dataclass, replace
from pathlib import Path

import dspy
from dspy.primitives.code_interpreter import CodeInterpreterError

from rlmbench.agents.approach import DEFAULT_REACT_LIMIT, STEP_HEADROOM, ApproachConfig
from rlmbench.agents.registry import REGISTRY, fits, reference_arm
from rlmbench.exits import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK
from rlmbench.lm.models import build_lm, missing_keys_message
from rlmbench.lm.oracle import ORACLE_NOTICE
from rlmbench.lm.pricing import price_of
from rlmbench.lm.settings import ModelSettings
from rlmbench.lm.windows import window_of
from rlmbench.report.growth import growth_fits
from rlmbench.report.page import write_page
from rlmbench.report.summary import summarise
from rlmbench.report.tables import SUMMARY_WIDTH
from rlmbench.results.files import ResultsFiles, ResumeError, check_resumable, read_traces
from rlmbench.results.meta import AgentSettings, ModelRecord, RunMeta, SweepInfo, TaskInfo, ToolInfo
from rlmbench.results.records import RunRecord
from rlmbench.run.dspy_messages import CommandLineWords
from rlmbench.run.endpoint import EndpointError, MeteredEndpoint
from rlmbench.run.interrupts import hold_interrupts, interrupts_restored
from rlmbench.run.live_progress import LiveProgress
from rlmbench.run.runner import ModelRun, run_benchmark
from rlmbench.run.server_idle import ServerWatch
from rlmbench.run.sweep import run_sweep
from rlmbench.run.tool_sweep import ANSWER_TOKENS, LATENCY, SweepAxis, run_tool_sweep
from rlmbench.sandbox.interpreter import SandboxSupply, check_deno
from rlmbench.tasks.backends import UserTools
from rlmbench.tasks.backends.truth import open_with_truth
from rlmbench.tasks.behaviour import Latency, ToolSettings
from rlmbench.tasks.sizes import Size
from rlmbench.tasks.synthetic import checks_at
from rlmbench.tasks.task import Task, TaskSchema
from rlmbench.tasks.task_file import TaskFileError
from rlmbench.tasks.tools import as_invoked, calls_needed
from rlmbench.words import counted


@dataclass(frozen=True)
class BenchmarkSettings:
    task: Task
    models: tuple[ModelSettings, ...]
    approaches: tuple[str, ...]
    runs: int
    approach_config: ApproachConfig
    output: Path | None = None
    cold_sandbox: bool = False
    timeout: float | None = None  # seconds of wall time per run
    resume: Path | None = None
    sweep: tuple[Size, ...] | None = None  # --scale: run on generated cases of these sizes instead
    react_limit: int = DEFAULT_REACT_LIMIT
    seed: int = 0  # the sweep's generated tasks and the tools' draws
    tool_latency_ms: tuple[float, ...] | None = None  # --tool-latency: every tool's latency(ies) instead of the task's
    tool_failure_rate: float | None = None  # --tool-faults: every tool's transient failure rate instead of the task's
    tool_answer_tokens: tuple[int, ...] | None = None  # --tool-answer-tokens: every table tool's answer size(s)
    plot: bool = False
    html: Path | None = None  # the HTML report's path; None: next to the results JSON


NO_FINDINGS_NOTICE = ("No findings in this task: its tools look things up, so coverage, tool calls, tokens, time and "
                      "diagnostics are measured, and the rows that score findings and the overall risk read n/a.")
PROSE_NOTICE = ("Answer form prose (--answer prose): the agents wrote the narrative only, so the findings rows are "
                "n/a; coverage, tokens and diagnostics are measured as usual.")
CONCURRENCY_NOTICE = ("Runs of {names} were executed several at a time (--concurrency): their wall times include "
                      "contention with each other (CPU, sandboxes, provider queues) and are not comparable to "
                      "sequential runs.")
MATRIX_NOTICE = ("The {n} models ran side by side, each model's runs one after another unless its concurrency says "
                 "otherwise: where two share this machine (the oracle, the sandbox, a local server), one's wall "
                 "times include contention with the other.")


IDLE_WAIT_FLOOR_S = 300.0
"""The longest wait for a local server to finish a cut run's call, unless --timeout is longer: a call may
have started just before the budget and take as long again."""


class SetupError(Exception):
    """The benchmark cannot start; the message is the one line to show (exit 2)."""


def _one(given: tuple | None):
    """A tool flag's one value for a single comparison; None without the flag, and in a sweep (several values)."""
    return given[0] if given is not None and len(given) == 1 else None


def _swept(given: tuple | None) -> tuple | None:
    """A tool flag's values in order, where it was given several (a sweep); None otherwise."""
    return tuple(sorted(given)) if given is not None and len(given) > 1 else None


def latency_override(settings: BenchmarkSettings) -> float | None:
    """The one --tool-latency of a single comparison."""
    return _one(settings.tool_latency_ms)


def latency_sweep(settings: BenchmarkSettings) -> tuple[float, ...] | None:
    """The latencies of a latency sweep (`--tool-latency 0,25,100`)."""
    return _swept(settings.tool_latency_ms)


def answer_tokens_override(settings: BenchmarkSettings) -> int | None:
    """The one --tool-answer-tokens of a single comparison."""
    return _one(settings.tool_answer_tokens)


def answer_tokens_sweep(settings: BenchmarkSettings) -> tuple[int, ...] | None:
    """The sizes of an answer-size sweep (`--tool-answer-tokens 0,2000`)."""
    return _swept(settings.tool_answer_tokens)


def tool_sweep(settings: BenchmarkSettings) -> tuple[SweepAxis, tuple[float, ...]] | None:
    """The tool behaviour a sweep varies and its values (the flags allow one at a time); None: no such sweep."""
    if (latencies := latency_sweep(settings)) is not None:
        return LATENCY, latencies
    if (sizes := answer_tokens_sweep(settings)) is not None:
        return ANSWER_TOKENS, sizes
    return None


def tool_settings(settings: BenchmarkSettings, user_tools: UserTools | None = None) -> ToolSettings:
    latency = Latency(ms) if (ms := latency_override(settings)) is not None else None
    return ToolSettings(seed=settings.seed, latency=latency, failure_rate=settings.tool_failure_rate,
                        answer_tokens=answer_tokens_override(settings), user_tools=user_tools)


def run(settings: BenchmarkSettings) -> int:
    """Run the benchmark and return the process exit code."""
    user_tools = endpoint = None
    try:
        problem = missing_keys_message(list(settings.models))
        if problem:  # before any server of the user's starts
            raise SetupError(problem.removeprefix("error: "))
        if any(REGISTRY[a].uses_endpoint for a in settings.approaches):
            endpoint = start_endpoint()
            settings = replace(settings, approach_config=replace(settings.approach_config, endpoint=endpoint))
        for prepare in {REGISTRY[a].prepare for a in settings.approaches} - {None}:
            prepare()  # what an arm loads once (smolagents' import), before any run's clock
        if settings.task.schema.user_code:
            user_tools = open_user_tools(settings)
            settings = replace(settings, task=user_tools.task)
        meta = build_header(settings, dt.datetime.now().astimezone())
        files, records = open_files(settings, meta)
    except (SetupError, ResumeError, TaskFileError) as exc:
        for opened in (user_tools, endpoint):
            if opened is not None:
                opened.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with interrupts_restored():
        try:
            interrupted = execute(settings, meta, files, records, user_tools)
        except KeyboardInterrupt:  # between runs, or while the sandboxes stop: every finished run is saved
            interrupted = True
        finally:  # Ctrl-C or a harness bug included: no server of the user's or ours outlives the benchmark
            hold_interrupts()
            for opened in (user_tools, endpoint):
                if opened is not None:
                    opened.close()
        finish(settings, meta, files, records, interrupted)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


def start_endpoint() -> MeteredEndpoint:
    """The metered endpoint an arm that is not DSPy's points its model client at (run.endpoint)."""
    try:
        return MeteredEndpoint()
    except EndpointError as exc:
        raise SetupError(f"--agent: the metered model endpoint {exc}") from None


def open_user_tools(settings: BenchmarkSettings) -> UserTools:
    """The task's functions and server, ready, with the ground truth read from them when the task says so."""
    if settings.sweep is not None:
        raise SetupError("--scale generates items your tools do not know; a task of your own functions or server "
                         "runs on its own lists")
    return open_with_truth(settings.task, lambda line: print(line, file=sys.stderr, flush=True))


def skipped_for_size(settings: BenchmarkSettings, required: int) -> dict[str, str]:
    """Approaches that spend an LM call per check, on a task with more checks than --react-limit: why each
    is skipped."""
    if settings.sweep is not None:
        return {}
    return {a: (f"{REGISTRY[a].label} skipped: task {settings.task.name} needs {required:,} checks, one LM call "
                f"each, more than --react-limit {settings.react_limit}")
            for a in settings.approaches if not fits(a, required, settings.react_limit)}


def build_header(settings: BenchmarkSettings, started: dt.datetime) -> RunMeta:
    """Check what the run needs (keys, Deno, an approach left to run) and describe the invocation."""
    problem = missing_keys_message(list(settings.models))
    if problem:
        raise SetupError(problem.removeprefix("error: "))  # the key check words its line for every command
    task = settings.task
    info = TaskInfo(**task.describe())
    too_large = skipped_for_size(settings, info.required_checks)
    approaches = [a for a in settings.approaches if a not in too_large]
    for reason in too_large.values():
        print(reason + "; raise --react-limit to run it anyway.", file=sys.stderr)
    if not approaches:
        raise SetupError("no approach left to run")
    uses_sandbox = any(REGISTRY[a].needs_sandbox for a in approaches)
    try:
        deno_version = check_deno() if uses_sandbox else None
    except CodeInterpreterError as exc:
        raise SetupError(f"the RLM sandbox needs Deno: {exc}") from None
    config = settings.approach_config
    return RunMeta(
        task=info,
        models=[ModelRecord.of(m, price_of(m), window_of(m)) for m in settings.models],
        runs=settings.runs,
        arms=[REGISTRY[a].arm() for a in approaches],
        reference_approach=reference_arm(approaches),
        skipped=too_large,
        dspy_version=dspy.__version__,
        smolagents_version=(importlib.metadata.version("smolagents")
                            if any(REGISTRY[a].framework == "smolagents" for a in approaches) else None),
        deno_version=deno_version,
        python=platform.python_version(),
        platform=platform.platform(),
        settings=AgentSettings(
            react_max_iters=(config.react_max_iters if settings.sweep is not None
                             else config.for_checks(calls_needed(task, task.full_case(), tool_settings(settings)))
                             .react_max_iters),
            react_step_headroom=STEP_HEADROOM, rlm_max_iters=config.rlm_max_iters,
            rlm_max_llm_calls=config.rlm_max_llm_calls, answer_form=config.answer_form),
        react_limit=settings.react_limit,
        run_timeout_s=settings.timeout,
        case=task.full_case().inputs if settings.sweep is None else None,
        sweep=None if settings.sweep is None else SweepInfo(
            sizes=[str(size) for size in settings.sweep], checks=[checks_at(task.schema, s) for s in settings.sweep],
            seed=settings.seed),
        tools=ToolInfo(seed=settings.seed, latency_override_ms=latency_override(settings),
                       latency_sweep_ms=list(latency_sweep(settings) or []),
                       latency={t.name: t.latency.text() for t in task.schema.tools if not t.latency.none},
                       failure_rate_override=settings.tool_failure_rate,
                       failure_rates={t.name: t.transient_failure_rate for t in task.schema.tools
                                      if t.transient_failure_rate}, tool_count=len(task.schema.tools),
                       answer_tokens_override=answer_tokens_override(settings),
                       answer_tokens_sweep=list(answer_tokens_sweep(settings) or []),
                       answer_tokens={t.name: t.answer_tokens for t in task.schema.tools if t.answer_tokens}),
        started_at=started.isoformat(),
        cold_sandbox=settings.cold_sandbox if uses_sandbox else None,
        notice=task.schema.notice,
    )


def default_output_path(task: str, models: tuple[ModelSettings, ...], now: dt.datetime, sweep: bool = False) -> Path:
    name = models[0].name if len(models) == 1 else f"{len(models)}-models"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")
    return Path("results") / f"results_{now:%Y%m%d_%H%M%S}_{task}_{slug}{'_sweep' if sweep else ''}.json"


def open_files(settings: BenchmarkSettings, meta: RunMeta) -> tuple[ResultsFiles, list[RunRecord]]:
    """New results files, or the resumed ones with the runs they hold (checked against this header)."""
    records: list[RunRecord] = []
    now = meta.started_at
    if settings.resume is None:
        files = ResultsFiles(settings.output or default_output_path(
            settings.task.name, settings.models, dt.datetime.fromisoformat(now), sweep=settings.sweep is not None))
    else:
        files = ResultsFiles.for_resume(settings.resume)
        previous, records = files.load_for_resume()
        check_resumable(previous, meta)
        meta.started_at, meta.resumed_at = previous.started_at, [*previous.resumed_at, now]
        records = [r for r in records if r.approach in meta.approaches and r.run <= settings.runs]
    meta.notices = notices(settings, meta)
    if settings.resume is None:
        files.start(meta)
    else:
        files.mark_resumed(now)
    return files, records


def notices(settings: BenchmarkSettings, meta: RunMeta) -> list[str]:
    """What the reader must know before reading a figure, most specific first; the task's data notice last."""
    out = []
    if not settings.task.schema.finding_tools:
        out.append(NO_FINDINGS_NOTICE)
    if settings.approach_config.answer_form == "prose":
        out.append(PROSE_NOTICE)
    out += [REGISTRY[a].notice for a in meta.approaches if REGISTRY[a].notice]
    if meta.resumed_at:
        times = len(meta.resumed_at)
        out.append(f"Resumed {counted(times, 'time')}; runs recorded earlier are included.")
    if len(settings.models) > 1:
        out.append(MATRIX_NOTICE.format(n=len(settings.models)))
    concurrent = [m.name for m in settings.models if m.concurrency > 1]
    if concurrent:
        out.append(CONCURRENCY_NOTICE.format(names=", ".join(concurrent)))
    if any(m.is_oracle for m in settings.models):
        out.append(ORACLE_NOTICE + ("" if len(settings.models) == 1 else " That holds for the oracle's rows only."))
    return out + [settings.task.schema.notice]


def run_line(record: RunRecord, total: int, with_model: bool) -> str:
    """The line printed as a run finishes."""
    outcome = "ok" if record.ok else f"FAILED ({record.failure.category}: {record.failure.type})"
    where = f" {record.case}" if record.case else ""
    model = f"{record.model}: " if with_model else ""
    return (f"[{model}{REGISTRY[record.approach].label}{where} {record.run}/{total}] {outcome}  "
            f"{record.wall_time_s:.2f} s  checks {record.coverage.covered}/{record.coverage.required}  "
            + "".join(f"follow-ups {f.made}/{f.required}  " for f in record.coverage.follow_ups or [])
            + f"LM calls {record.lm_calls}")


RESUMED_FROM = "the invocation this one resumes"
"""Its Ctrl-C left the request in flight to a local server, which may still be generating it."""


def _model_run(model: ModelSettings, record: ModelRecord, schema: TaskSchema, timeout: float | None,
               resumed: bool) -> ModelRun:
    """The model as the runner drives it; a local server (--api-base) is watched for abandoned calls.
    `schema`: the task as this invocation's tools behave (the oracle plays against it)."""
    lm = build_lm(model, schema)
    earlier = (RESUMED_FROM,) if resumed else ()
    server = (ServerWatch(lm, bound_s=max(timeout, IDLE_WAIT_FLOOR_S), abandoned=earlier)
              if model.api_base and timeout else None)
    return ModelRun(model.name, lm, model.concurrency, record.price, server)


def execute(settings: BenchmarkSettings, meta: RunMeta, files: ResultsFiles, records: list[RunRecord],
            user_tools: UserTools | None = None) -> bool:
    """Every run not yet recorded; each record is saved the moment its run ends. True when Ctrl-C cut it short."""
    task, approaches = settings.task, meta.approaches
    schema = as_invoked(task.schema, tool_settings(settings))
    models = [_model_run(m, record, schema, settings.timeout, settings.resume is not None)
              for m, record in zip(settings.models, meta.models)]
    dspy.configure(lm=models[0].lm, track_usage=True)
    progress = LiveProgress()

    def on_record(record: RunRecord, trace: dict) -> None:
        records.append(record)
        files.add_run(record, trace)
        files.rewrite_document(meta, records)
        progress.finished(run_line(record, settings.runs, with_model=len(models) > 1))

    done = frozenset((r.model, r.approach, r.run) for r in records)
    print(textwrap.fill(f"Running {', '.join(meta.label(a) for a in approaches)} x {settings.runs} on task "
                        f"{task.name} with {', '.join(m.name for m in models)}; results: {files.json_path}"
                        + (f" ({counted(len(done), 'run')} already recorded, skipped)" if settings.resume else ""),
                        SUMMARY_WIDTH, break_on_hyphens=False, break_long_words=False), file=sys.stderr, flush=True)
    # Warm boots restore a Pyodide memory snapshot (made on first use); --cold-sandbox keeps DSPy's stock boot.
    sandboxes = (SandboxSupply.for_benchmark(settings.cold_sandbox, progress.finished)
                 if meta.cold_sandbox is not None else None)
    try:
        with progress, CommandLineWords(files.traces_path):
            if settings.sweep is not None:
                result = run_sweep(task, approaches, settings.sweep, settings.runs, models,
                                   settings.approach_config, on_record, sandboxes, seed=settings.seed,
                                   react_limit=settings.react_limit, timeout=settings.timeout, watch=progress.update,
                                   tool_settings=tool_settings(settings, user_tools))
                meta.sweep.skipped = result.skipped
                return result.interrupted
            if (swept := tool_sweep(settings)) is not None:
                return run_tool_sweep(*swept, task, approaches, settings.runs, models, settings.approach_config,
                                      on_record, sandboxes, tool_settings(settings, user_tools),
                                      timeout=settings.timeout, watch=progress.update)
            _, interrupted = run_benchmark(task, approaches, settings.runs, models, settings.approach_config,
                                           on_record, case=task.full_case(), sandboxes=sandboxes,
                                           timeout=settings.timeout, skip=done, watch=progress.update,
                                           tool_settings=tool_settings(settings, user_tools))
            return interrupted
    finally:
        if sandboxes is not None:
            sandboxes.close()


def resume_command(log: Path) -> str:
    """The command that continues this invocation, to paste as it is: the log holds every other setting."""
    prefix = "uv run " if os.environ.get("UV") else ""  # started through `uv run`, as the README does
    return f"{prefix}rlmbench run --resume {shlex.quote(str(log))}"


def finish(settings: BenchmarkSettings, meta: RunMeta, files: ResultsFiles, records: list[RunRecord],
           interrupted: bool) -> None:
    """Save the final document, print the summary, write the page (and the chart with --plot)."""
    if interrupted:
        meta.notices.append(f"Interrupted (Ctrl-C): summary of the {counted(len(records), 'run')} that finished."
                            + ("" if settings.sweep else f" Continue with: {resume_command(files.log_path)}"))
    sizes = meta.sweep.sizes if meta.sweep else []
    order = {a: i for i, a in enumerate(meta.approaches)}
    model_order = {name: i for i, name in enumerate(meta.labels)}
    records.sort(key=lambda r: (sizes.index(r.case) if r.case in sizes else -1, r.tool_latency_ms or 0.0,
                                r.tool_answer_tokens or 0, model_order.get(r.model, -1), order[r.approach], r.run))
    if meta.sweep is not None:
        meta.sweep.fits = growth_fits(records, meta.approaches, meta.labels)
    meta.state = "interrupted" if interrupted else "finished"
    files.rewrite_document(meta, records)
    files.mark_ended(meta.state, dt.datetime.now().astimezone().isoformat())
    print(summarise(meta, records, settings.task.schema).text())
    try:
        report = write_page(settings.html or files.page_path, meta, records,
                            read_traces(files.traces_path, meta.labels), settings.task, files.json_path)
    except Exception as exc:  # the results are saved already; the page can be rebuilt from them
        report = f"not written ({type(exc).__name__}: {exc}); rebuild it with rlmbench report {files.json_path}"
    print(f"\nResults: {files.json_path}\nReport:  {report}\nRun log: {files.log_path}\nTraces:  {files.traces_path}")
    if settings.plot and records:
        from rlmbench.report.plots import write_chart  # matplotlib loads only when asked for

        print(f"Chart:   {write_chart(files.chart_path, records, meta, settings.task.schema)}")
