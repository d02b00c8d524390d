"""The benchmark command: check the settings, run, save as it goes, print the summary."""

from __future__ import annotations

import datetime as dt
import json
import platform
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import dspy

from rlmbench.approaches import APPROACH_LABELS, SANDBOX_APPROACHES, ApproachConfig, Case
from rlmbench.models import ModelSettings, build_lm, missing_key_message
from rlmbench.oracle import ORACLE_NOTICE
from rlmbench.report import render_summary, write_json_atomic
from rlmbench.runner import RunRecord, run_benchmark
from rlmbench.sandbox import SandboxSupply, check_deno
from dspy.primitives.code_interpreter import CodeInterpreterError
from tools import DEFAULT_SCENARIO, SIMULATED_DATA_NOTICE

EXIT_CONFIG = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class BenchmarkSettings:
    model: ModelSettings
    approaches: tuple[str, ...]
    runs: int
    approach_config: ApproachConfig
    output: Path | None = None
    cold_sandbox: bool = False


def default_output_path(model: str, now: dt.datetime) -> Path:
    slug = re.sub(r"[^A-Za-z0-9.]+", "-", model).strip("-")
    return Path("results") / f"results_{now:%Y%m%d_%H%M%S}_{slug}.json"


def _progress(record: RunRecord, total: int) -> None:
    cov = record.coverage
    outcome = "ok" if record.ok else f"FAILED ({record.failure['category']}: {record.failure['type']})"
    print(
        f"[{APPROACH_LABELS[record.approach]} {record.run}/{total}] {outcome}  {record.wall_time_s:.2f} s  "
        f"pairs {cov['pairs_covered']}/{cov['pairs_required']}  "
        f"contraindications {cov['conditions_covered']}/{cov['conditions_required']}  "
        f"LM calls {record.lm_calls}",
        file=sys.stderr,
        flush=True,
    )


def run(settings: BenchmarkSettings) -> int:
    """Run the benchmark and return the process exit code."""
    problem = missing_key_message(settings.model)
    if problem:
        print(problem, file=sys.stderr)
        return EXIT_CONFIG
    deno_version = None
    uses_sandbox = any(a in SANDBOX_APPROACHES for a in settings.approaches)
    if uses_sandbox:
        try:
            deno_version = check_deno()
        except CodeInterpreterError as exc:
            print(f"error: the RLM sandbox needs Deno: {exc}", file=sys.stderr)
            return EXIT_CONFIG

    started = dt.datetime.now().astimezone()
    output = settings.output or default_output_path(settings.model.model, started)
    traces_path = output.with_suffix(".traces.jsonl")
    case = Case(list(DEFAULT_SCENARIO.medications), list(DEFAULT_SCENARIO.conditions))
    config = settings.approach_config
    meta = {
        "model": settings.model.describe(),
        "runs": settings.runs,
        "approaches": list(settings.approaches),
        "dspy_version": dspy.__version__,
        "deno_version": deno_version,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "settings": {k: v for k, v in asdict(config).items() if k != "interpreter_factory"},
        "case": asdict(case),
        "started_at": started.isoformat(),
        "cache": False,
        "sandbox": None if not uses_sandbox else ("cold: boot inside each run's wall time" if settings.cold_sandbox
                                                   else "warm pool: boot before each run's clock starts"),
        "notice": SIMULATED_DATA_NOTICE,
    }
    notices = [SIMULATED_DATA_NOTICE]
    if settings.model.is_oracle:
        notices.insert(0, ORACLE_NOTICE)
    meta["notices"] = notices

    lm = build_lm(settings.model)
    dspy.configure(lm=lm, track_usage=True)
    records: list[RunRecord] = []
    traces_path.parent.mkdir(parents=True, exist_ok=True)
    traces_path.write_text("")

    def save(finished: bool, interrupted: bool = False) -> None:
        write_json_atomic(output, {
            **meta,
            "finished": finished,
            "interrupted": interrupted,
            "records": [r.to_dict() for r in records],
        })

    def on_record(record: RunRecord, trace: dict) -> None:
        records.append(record)
        save(finished=False)
        with traces_path.open("a") as handle:
            handle.write(json.dumps({"approach": record.approach, "run": record.run, **trace}, default=str) + "\n")
        _progress(record, settings.runs)

    print(f"Running {', '.join(APPROACH_LABELS[a] for a in settings.approaches)} x {settings.runs} "
          f"on {settings.model.model}; results: {output}", file=sys.stderr, flush=True)
    sandboxes = SandboxSupply(warm=not settings.cold_sandbox) if uses_sandbox else None
    try:
        _, interrupted = run_benchmark(list(settings.approaches), settings.runs, case, lm, config, on_record,
                                       sandboxes=sandboxes)
    finally:
        if sandboxes is not None:
            sandboxes.close()
    if interrupted:
        notices.append(f"Interrupted (Ctrl-C): summary of the {len(records)} runs that finished.")
    save(finished=not interrupted, interrupted=interrupted)
    print(render_summary(records, list(settings.approaches), meta, notices))
    print(f"\nResults: {output}\nTraces:  {traces_path}")
    return EXIT_INTERRUPTED if interrupted else 0
