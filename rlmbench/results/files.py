"""The files a benchmark invocation leaves behind, written so that no finished run is ever lost.

- `<name>.jsonl`: the log. A `meta` line, then one `record` line per run, appended and
  flushed to disk the moment the run finishes; a crash, a kill or Ctrl-C loses nothing that
  finished. `--resume` reads it back.
- `<name>.json`: the same content as one document (settings plus every record), rewritten
  atomically after each run, for readers that want a single JSON file.
- `<name>.traces.jsonl`: one line per run with its trajectory, code cells, plan and tool calls.

Every file's header (`results.meta.RunMeta`) carries `schema_version` (records.SCHEMA_VERSION).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pydantic

from rlmbench.atomic_write import write_atomic
from rlmbench.lm.settings import same_on_resume
from rlmbench.results.meta import RunMeta
from rlmbench.results.records import SCHEMA_VERSION, RunRecord

RESUME_MUST_MATCH = ("schema_version", "task.name", "task.fingerprint", "settings", "tools", "case")
TOOLS_ANSWER_DIFFERENTLY = ("cannot resume: the task's tools now answer differently from when those runs were recorded (ground "
                 "truth {now}, was {before}); start a new results file")
"""Header fields that must match for a resumed invocation to add runs to the same comparison. For a model in
both the log and the invocation (matched by label), lm.settings.same_on_resume() names its fields; a new label
adds a model."""


TRACE_KEY = ("task", "case", "model", "approach", "run")
"""What names one run: a record and its trace line share it."""


def record_key(record: RunRecord) -> tuple:
    return record.task, record.case, record.model, record.approach, record.run


class ResumeError(Exception):
    """The file given to --resume cannot be continued; the message is the one line the user sees."""


def write_json_atomic(path: Path, payload: dict) -> None:
    write_atomic(path, json.dumps(payload, indent=2, default=str).encode())


def _append_line(path: Path, payload: dict) -> None:
    with path.open("a") as handle:
        handle.write(json.dumps(payload, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


@dataclass(frozen=True)
class ResultsFiles:
    json_path: Path

    @classmethod
    def for_resume(cls, given: Path) -> "ResultsFiles":
        """The files of an earlier invocation, from its .jsonl log, its .json document, its traces or its page.

        The suffix is cut as text: a model name such as `qwen2.5` holds a dot that `with_suffix` would eat."""
        return cls(given.with_name(_stem(given.name) + ".json"))

    def _beside(self, suffix: str) -> Path:
        return self.json_path.with_name(_stem(self.json_path.name) + suffix)

    @property
    def log_path(self) -> Path:
        return self._beside(".jsonl")

    @property
    def traces_path(self) -> Path:
        return self._beside(".traces.jsonl")

    @property
    def page_path(self) -> Path:
        return self._beside(".html")

    @property
    def chart_path(self) -> Path:
        return self._beside(".png")

    def start(self, meta: RunMeta) -> None:
        self.json_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text("")
        self.traces_path.write_text("")
        _append_line(self.log_path, {"kind": "meta", **meta.model_dump(mode="json")})

    def mark_resumed(self, at: str) -> None:
        _append_line(self.log_path, {"kind": "resumed", "at": at})

    def mark_ended(self, state: str, at: str) -> None:
        """How the invocation ended (finished, interrupted): the log is appended to, never rewritten, so its meta
        line keeps the state it started in and this line says the state it ended in."""
        _append_line(self.log_path, {"kind": "ended", "state": state, "at": at})

    def add_run(self, record: RunRecord, trace: dict) -> None:
        _append_line(self.log_path, {"kind": "record", **record.to_dict()})
        _append_line(self.traces_path, {**dict(zip(TRACE_KEY, record_key(record))), **trace})

    def rewrite_document(self, meta: RunMeta, records: list[RunRecord]) -> None:
        """The .json document: the header and every record so far, replaced whole."""
        write_json_atomic(self.json_path, {**meta.model_dump(mode="json"), "records": [r.to_dict() for r in records]})

    def load_for_resume(self) -> tuple[RunMeta, list[RunRecord]]:
        """The meta line and the recorded runs of the log.

        A torn last line (a kill in the middle of a write) is cut off the file, so the lines
        the resumed invocation appends start on a line of their own.
        """
        try:
            text = self.log_path.read_text()
        except OSError as exc:
            raise ResumeError(f"cannot read {self.log_path}: {exc.strerror or exc}") from exc
        if text and not text.endswith("\n"):
            text = text[:text.rfind("\n") + 1]
            with self.log_path.open("r+") as handle:
                handle.truncate(len(text.encode()))
        lines = text.splitlines()
        entries = []
        for number, line in enumerate(lines, 1):
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError:
                raise ResumeError(f"{self.log_path} line {number} is not JSON; it is not a results log") from None
        if not entries or entries[0].get("kind") != "meta":
            raise ResumeError(f"{self.log_path} does not start with a meta line; it is not a results log")
        records = {}
        header = dict(entries[0])
        header.pop("kind")
        if header.get("schema_version") != SCHEMA_VERSION:
            raise ResumeError(f"{self.log_path} was written with results schema {header.get('schema_version', 1)}; "
                              f"this benchmark writes schema {SCHEMA_VERSION}: start a new results file")
        meta = _header(header, self.log_path, ResumeError)
        for entry in entries[1:]:
            kind = entry.pop("kind", None)
            if kind == "record":
                record = RunRecord.from_dict(entry)
                records[record_key(record)] = record
            elif kind == "resumed":
                meta.resumed_at.append(entry.get("at"))
            elif kind == "ended":
                meta.state = entry.get("state", meta.state)
        return meta, list(records.values())


def _stem(name: str) -> str:
    """A results file's name without its own suffix (.json, .jsonl, .traces.jsonl, .html, .png)."""
    for suffix in (".traces.jsonl", ".jsonl", ".json", ".html", ".png"):
        if name.endswith(suffix):
            return name[:-len(suffix)]
    return name


def _header(fields: dict, path: Path, error: type[Exception]) -> RunMeta:
    try:
        return RunMeta.model_validate(fields)
    except pydantic.ValidationError as exc:
        problem = exc.errors()[0]
        raise error(f"{path}: its header does not match schema {SCHEMA_VERSION}: "
                    f"{'.'.join(map(str, problem['loc']))}: {problem['msg']}") from None


def _lookup(meta: dict, dotted: str):
    value = meta
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _first_difference(key: str, before, now) -> tuple[str, object, object] | None:
    """The most specific setting that differs: `settings.react_max_iters`, not the whole `settings`."""
    before, now = json.loads(json.dumps(before, default=str)), json.loads(json.dumps(now, default=str))
    if before == now:
        return None
    if isinstance(before, dict) and isinstance(now, dict):
        for sub in dict.fromkeys([*before, *now]):
            found = _first_difference(f"{key}.{sub}", before.get(sub), now.get(sub))
            if found:
                return found
    return key, before, now


def check_resumable(previous_meta: RunMeta, current_meta: RunMeta) -> None:
    """Raise ResumeError naming the first setting that differs: mixed settings would make one summary lie."""
    previous, current = previous_meta.model_dump(mode="json"), current_meta.model_dump(mode="json")
    before, now = previous_meta.task.truth_fingerprint, current_meta.task.truth_fingerprint
    if before != now and before is not None:  # said as itself, not as the task's fingerprint that it also changes
        raise ResumeError(TOOLS_ANSWER_DIFFERENTLY.format(before=before, now=now))
    earlier = {m["label"]: m for m in previous["models"]}
    pairs = [(key, _lookup(previous, key), _lookup(current, key)) for key in RESUME_MUST_MATCH]
    pairs += [(f"model {m['label']!r} {key}", earlier[m["label"]].get(key), m.get(key))
              for m in current["models"] if m["label"] in earlier for key in same_on_resume()]
    for key, before, now in pairs:
        found = _first_difference(key, before, now)
        if found:
            name, before, now = found
            raise ResumeError(f"cannot resume: {name} was {before!r} in that file and is {now!r} now; "
                              f"use the same settings, or start a new results file")


class ResultsReadError(Exception):
    """A results file that cannot be read back; the message is the one line the user sees."""


def read_results(json_path: Path) -> tuple[RunMeta, list[RunRecord]]:
    """The meta and the records of an invocation's .json document (finished, interrupted or still running)."""
    try:
        document = json.loads(json_path.read_text())
    except OSError as exc:
        raise ResultsReadError(f"cannot read {json_path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ResultsReadError(f"{json_path} is not JSON ({exc.msg}, line {exc.lineno}); give the results .json") from None
    if not isinstance(document, dict) or "records" not in document or "task" not in document:
        raise ResultsReadError(f"{json_path} is not a benchmark results file (no task or records)")
    if document.get("schema_version") != SCHEMA_VERSION:
        raise ResultsReadError(f"{json_path} was written with results schema {document.get('schema_version', 1)}; "
                               f"this version reads schema {SCHEMA_VERSION}")
    try:
        records = [RunRecord.from_dict(r) for r in document.pop("records")]
    except ValueError as exc:
        raise ResultsReadError(f"{json_path}: a record does not match schema {SCHEMA_VERSION}: "
                               f"{str(exc).splitlines()[0]}") from None
    return _header(document, json_path, ResultsReadError), records


def read_traces(path: Path, models: list[str]) -> dict[tuple, dict]:
    """Each run's trace by its record_key; a missing file or a torn last line gives what there is.

    Trace lines written before they named their model belong to the only model of their invocation."""
    traces: dict[tuple, dict] = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return traces
    for line in lines:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(entry, dict):
            continue
        if "model" not in entry and len(models) == 1:
            entry["model"] = models[0]
        traces[tuple(entry.get(k) for k in TRACE_KEY)] = entry
    return traces
