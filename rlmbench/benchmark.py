"""The benchmark command: check the settings, run, save as it goes, print the summary."""

from __future__ import annotations

import datetime as dt
import platform
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import dspy

from dspy.primitives.code_interpreter import CodeInterpreterError

from rlmbench.approaches import DEFAULT_REACT_LIMIT, REGISTRY, STEP_HEADROOM, ApproachConfig, fits
from rlmbench.models import ModelSettings, build_lm, missing_keys_message
from rlmbench.oracle import ORACLE_NOTICE
from rlmbench.pricing import price_of
from rlmbench.progress import LiveProgress
from rlmbench.records import SCHEMA_VERSION, RunRecord
from rlmbench.report import label
from rlmbench.html_page import page_path, write_page
from rlmbench.results_files import ResultsFiles, ResumeError, check_resumable, read_traces
from rlmbench.runner import ModelRun, run_benchmark
from rlmbench.pyodide_snapshot import SnapshotStore
from rlmbench.sandbox import SandboxSupply, check_deno
from rlmbench.sizes import Size
from rlmbench.summary import summarise
from rlmbench.sweep import growth_fits, run_sweep
from rlmbench.synthetic import checks_at
from rlmbench.task import Task

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


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
    seed: int = 0
    plot: bool = False
    html: Path | None = None  # the HTML report's path; None: next to the results JSON

PROSE_NOTICE = ("Answer form prose (--answer prose): the agents wrote the narrative only, so the findings rows are "
                "n/a; coverage, tokens and diagnostics are measured as usual.")
CONCURRENCY_NOTICE = ("Runs of {names} were executed several at a time (--concurrency): their wall times include "
                      "contention with each other (CPU, sandboxes, provider queues) and are not comparable to "
                      "sequential runs.")
MATRIX_NOTICE = ("The {n} models ran side by side, each model's runs one after another unless its concurrency says "
                 "otherwise: where two share this machine (the oracle, the sandbox, a local server), one's wall "
                 "times include contention with the other.")


def default_output_path(task: str, models: tuple[ModelSettings, ...], now: dt.datetime, sweep: bool = False) -> Path:
    name = models[0].name if len(models) == 1 else f"{len(models)}-models"
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")
    return Path("results") / f"results_{now:%Y%m%d_%H%M%S}_{task}_{slug}{'_sweep' if sweep else ''}.json"


def finished_line(record: RunRecord, total: int, with_model: bool) -> str:
    outcome = "ok" if record.ok else f"FAILED ({record.failure.category}: {record.failure.type})"
    where = f" {record.case}" if record.case else ""
    model = f"{record.model}: " if with_model else ""
    return (f"[{model}{label(record.approach)}{where} {record.run}/{total}] {outcome}  {record.wall_time_s:.2f} s  "
            f"checks {record.coverage.covered}/{record.coverage.required}  LM calls {record.lm_calls}")


def skipped_for_size(settings: BenchmarkSettings, required: int) -> dict[str, str]:
    """Approaches that spend an LM call per check, on a task with more checks than --react-limit: why each is skipped."""
    if settings.sweep is not None:
        return {}
    return {a: (f"{label(a)} skipped: task {settings.task.name} needs {required:,} checks, one LM call each, more "
                f"than --react-limit {settings.react_limit}")
            for a in settings.approaches if not fits(a, required, settings.react_limit)}


def _notices(settings: BenchmarkSettings, meta: dict) -> list[str]:
    notices = [settings.task.schema.notice]
    if any(m.is_oracle for m in settings.models):
        notices.insert(0, ORACLE_NOTICE + ("" if len(settings.models) == 1 else " That holds for the oracle's rows only."))
    concurrent = [m.name for m in settings.models if m.concurrency > 1]
    if concurrent:
        notices.insert(0, CONCURRENCY_NOTICE.format(names=", ".join(concurrent)))
    if len(settings.models) > 1:
        notices.insert(0, MATRIX_NOTICE.format(n=len(settings.models)))
    if meta.get("resumed_at"):
        notices.insert(0, f"Resumed {len(meta['resumed_at'])} time(s); runs recorded earlier are included.")
    if settings.approach_config.answer_form == "prose":
        notices.insert(0, PROSE_NOTICE)
    return notices


def run(settings: BenchmarkSettings) -> int:
    """Run the benchmark and return the process exit code."""
    problem = missing_keys_message(list(settings.models))
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG
    task = settings.task
    task_meta = task.describe()
    too_large = skipped_for_size(settings, task_meta["required_checks"])
    approaches = [a for a in settings.approaches if a not in too_large]
    for reason in too_large.values():
        print(reason + "; raise --react-limit to run it anyway.", file=sys.stderr)
    if not approaches:
        print("error: no approach left to run", file=sys.stderr)
        return EXIT_CONFIG
    deno_version = None
    uses_sandbox = any(REGISTRY[a].uses_sandbox for a in approaches)
    if uses_sandbox:
        try:
            deno_version = check_deno()
        except CodeInterpreterError as exc:
            print(f"error: the RLM sandbox needs Deno: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    started = dt.datetime.now().astimezone()
    case = task.full_case()
    config = settings.approach_config
    resolved = (config if settings.sweep is not None else config.for_checks(task_meta["required_checks"])).describe()
    if resolved["react_max_iters"] is None:
        resolved["react_max_iters"] = f"required checks + {STEP_HEADROOM} at each size"
    prices = {m.name: price_of(m) for m in settings.models}
    meta = {
        "schema_version": SCHEMA_VERSION,
        "task": task_meta,
        "models": [{**m.describe(), "price": None if prices[m.name] is None else prices[m.name].describe()}
                   for m in settings.models],
        "runs": settings.runs,
        "approaches": approaches,
        "skipped": too_large,
        "dspy_version": dspy.__version__,
        "deno_version": deno_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "settings": resolved,
        "react_limit": settings.react_limit,
        "run_timeout_s": settings.timeout,
        "case": case.inputs if settings.sweep is None else None,
        "sweep": None if settings.sweep is None else {
            "sizes": [str(size) for size in settings.sweep],
            "checks": [checks_at(task.schema, size) for size in settings.sweep], "seed": settings.seed},
        "started_at": started.isoformat(),
        "cache": False,
        "sandbox": None if not uses_sandbox else (
            "cold: DSPy's stock boot inside each run's wall time" if settings.cold_sandbox
            else "warm pool: boot from a Pyodide memory snapshot before each run's clock starts"),
        "notice": task.schema.notice,
    }
    records: list[RunRecord] = []
    if settings.resume is not None:
        files = ResultsFiles.for_resume(settings.resume)
        try:
            previous, records = files.load_for_resume()
            check_resumable(previous, meta)
        except ResumeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        meta = {**meta, "started_at": previous.get("started_at"),
                "resumed_at": [*previous.get("resumed_at", []), started.isoformat()]}
        records = [r for r in records if r.approach in approaches and r.run <= settings.runs]
    else:
        files = ResultsFiles(settings.output or default_output_path(task.name, settings.models, started,
                                                                    sweep=settings.sweep is not None))
    notices = _notices(settings, meta)
    meta["notices"] = notices

    models = [ModelRun(m.name, build_lm(m, task.schema), m.concurrency, prices[m.name]) for m in settings.models]
    dspy.configure(lm=models[0].lm, track_usage=True)
    if settings.resume is None:
        files.start(meta)
    else:
        files.mark_resumed(started.isoformat())

    progress = LiveProgress()

    def on_record(record: RunRecord, trace: dict) -> None:
        records.append(record)
        files.add_run(record, trace)
        files.snapshot(meta, records, finished=False, interrupted=False)
        progress.finished(finished_line(record, settings.runs, with_model=len(models) > 1))

    done = frozenset((r.model, r.approach, r.run) for r in records)
    print(f"Running {', '.join(label(a) for a in approaches)} x {settings.runs} on task {task.name} "
          f"with {', '.join(m.name for m in models)}; results: {files.json_path}"
          + (f" ({len(done)} runs already recorded, skipped)" if settings.resume else ""), file=sys.stderr, flush=True)
    # Warm boots restore a Pyodide memory snapshot (made on first use); --cold-sandbox keeps DSPy's stock boot.
    sandboxes = (SandboxSupply(warm=not settings.cold_sandbox,
                               snapshots=None if settings.cold_sandbox else SnapshotStore(progress.finished))
                 if uses_sandbox else None)
    skipped: dict[str, list[str]] = {}
    try:
        with progress:
            if settings.sweep is not None:
                result = run_sweep(task, approaches, settings.sweep, settings.runs, models, config, on_record,
                                   sandboxes, seed=settings.seed, react_limit=settings.react_limit,
                                   timeout=settings.timeout, watch=progress.update)
                interrupted, skipped = result.interrupted, result.skipped
            else:
                _, interrupted = run_benchmark(task, approaches, settings.runs, models, config, on_record, case=case,
                                               sandboxes=sandboxes, timeout=settings.timeout, skip=done,
                                               watch=progress.update)
    finally:
        if sandboxes is not None:
            sandboxes.close()
    if interrupted:
        notices.append(f"Interrupted (Ctrl-C): summary of the {len(records)} runs that finished."
                       + ("" if settings.sweep else f" Continue with --resume {files.log_path}"))
    order = {a: i for i, a in enumerate(approaches)}
    model_order = {m.name: i for i, m in enumerate(models)}
    sizes = [str(size) for size in settings.sweep or ()]
    records.sort(key=lambda r: (sizes.index(r.case) if r.case in sizes else -1, model_order.get(r.model, -1),
                                order[r.approach], r.run))
    model_names = [m.name for m in models]
    if settings.sweep is not None:
        meta["sweep"].update(fits=growth_fits(records, approaches, model_names), skipped=skipped)
    files.snapshot(meta, records, finished=not interrupted, interrupted=interrupted)
    print(summarise(meta, records, task.schema).text())
    try:
        report = write_page(settings.html or page_path(files.json_path),
                            {**meta, "finished": not interrupted, "interrupted": interrupted}, records,
                            read_traces(files.traces_path, model_names), task, files.json_path)
    except Exception as exc:  # the results are saved already; the page can be rebuilt from them
        report = f"not written ({type(exc).__name__}: {exc}); rebuild it with html_report.py {files.json_path}"
    print(f"\nResults: {files.json_path}\nReport:  {report}\nRun log: {files.log_path}\nTraces:  {files.traces_path}")
    if settings.plot and records:
        from rlmbench.plots import write_plots  # matplotlib loads only when asked for

        for path in write_plots(records, approaches, meta, files.json_path, task.schema):
            print(f"Chart:   {path}")
    return EXIT_INTERRUPTED if interrupted else 0
