"""The models of one invocation: repeated `--model` flags and a `--models FILE` (TOML).

A models file lists entries under `[[models]]`: `label`, `model`, and optionally `api_base`,
`api_key_env` (the *name* of the variable that holds the key, never the key), `max_tokens`,
`concurrency`, `price_in`, `price_out` (dollars per million tokens). A bad file is one line
naming the file and the entry, with exit code 2.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pydantic

from rlmbench.lm.settings import ORACLE_MODEL_NAME, ModelSettings, setting_names

ENTRY_FIELDS = set(setting_names()) - {"api_key"}
"""Every model setting but the key itself, which never goes into a file."""
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class ModelsFileError(Exception):
    """A models file that cannot be used; str() is the one line to show."""


def _entry(path: Path, index: int, raw: object, defaults: ModelSettings) -> ModelSettings:
    where = f"{path}: models[{index}]"
    if not isinstance(raw, dict):
        raise ModelsFileError(f"{where}: must be a table")
    name = raw.get("label") or raw.get("model") or f"entry {index}"
    where = f"{path}: models[{index}] ({name})"
    if "api_key" in raw:
        raise ModelsFileError(f"{where}: api_key: never write a key into the file; put the key in an environment "
                              f"variable and its name in api_key_env")
    unknown = sorted(set(raw) - ENTRY_FIELDS)
    if unknown:
        raise ModelsFileError(f"{where}: {unknown[0]}: unknown field; allowed: {', '.join(sorted(ENTRY_FIELDS))}")
    if not isinstance(raw.get("model"), str) or not raw["model"].strip():
        raise ModelsFileError(f"{where}: model: missing")
    variable = raw.get("api_key_env")
    if variable is not None and (not isinstance(variable, str) or not _VARIABLE.fullmatch(variable)):
        raise ModelsFileError(f"{where}: api_key_env: {str(variable)[:4]}... is not a variable name (it looks like "
                              f"a key); write the name of the variable that holds the key")
    for field in ("price_in", "price_out"):
        value = raw.get(field)
        if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
            raise ModelsFileError(f"{where}: {field}: must be a number of dollars per million tokens, 0 or more")
    if ("price_in" in raw) != ("price_out" in raw):
        raise ModelsFileError(f"{where}: give both price_in and price_out, or neither")
    for field in ("max_tokens", "concurrency", "retries", "tokens_per_minute"):
        value = raw.get(field)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < (
                0 if field == "retries" else 1)):
            raise ModelsFileError(f"{where}: {field}: must be a whole number of at least "
                                  f"{0 if field == 'retries' else 1}")
    try:
        entry = ModelSettings.model_validate({**defaults.model_dump(), **raw})
    except pydantic.ValidationError as exc:
        error = exc.errors()[0]
        raise ModelsFileError(f"{where}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    return entry.model_copy(update={"api_key": defaults.api_key})


def read_models_file(path: Path, defaults: ModelSettings) -> list[ModelSettings]:
    try:
        data = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ModelsFileError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ModelsFileError(f"{path}: not valid TOML: {exc}") from None
    entries = data.get("models")
    if not isinstance(entries, list) or not entries:
        raise ModelsFileError(f"{path}: needs at least one [[models]] entry")
    return [_entry(path, i, raw, defaults) for i, raw in enumerate(entries)]


def _from_flag(model: str, defaults: ModelSettings) -> ModelSettings:
    """A --model with the provider flags; the offline oracle takes no server, key or price from them."""
    if model == ORACLE_MODEL_NAME:
        return defaults.model_copy(update=dict(model=model, api_base=None, api_key=None, price_in=None, price_out=None))
    return defaults.model_copy(update=dict(model=model))


def model_list(models: list[str], models_file: Path | None, defaults: ModelSettings) -> list[ModelSettings]:
    """The invocation's models: each --model with the provider flags, then the file's entries; labels unique."""
    chosen = [_from_flag(m, defaults) for m in models]
    if models_file is not None:
        chosen += read_models_file(models_file, defaults)
    seen: dict[str, ModelSettings] = {}
    for settings in chosen:
        if settings.name in seen:
            source = f"{models_file}: " if models_file else ""
            raise ModelsFileError(f"{source}duplicate model label {settings.name!r}; give each model its own label")
        seen[settings.name] = settings
    return chosen


def merge_models(logged: list[ModelSettings], given: list[ModelSettings]) -> list[ModelSettings]:
    """A resumed invocation's models: the log's, with a given model of the same label in its place (the
    resume check then compares the two), and given models with new labels added to the comparison."""
    by_label = {m.name: m for m in given}
    merged = [by_label.pop(m.name, m) for m in logged]
    return merged + list(by_label.values())
