"""A task tool that is the user's Python function (`function = "module:attr"`).

The module is the user's trusted code, run in the benchmark's own process like a pytest conftest; the model's
code still reaches it only through DSPy's tool bridge. It is imported from the task file's folder first, then the
working folder and the path.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Callable


class FunctionError(Exception):
    """The function cannot be used; str() is the problem, for `tools[i].function`."""


def _module(name: str, folder: Path):
    """The module, from the task file's folder first (as the script beside it would import it), then the working
    folder and the path. The folders are on sys.path only while it is imported."""
    added = [str(folder.resolve()), str(Path.cwd())]
    sys.path[:0] = added
    try:
        return importlib.import_module(name)
    finally:
        for entry in added:  # the first occurrence of each is the one put in front above
            sys.path.remove(entry)


def load_function(spec: str, folder: Path) -> Callable:
    """The function `module:attr` names; FunctionError saying why not."""
    module_name, _, attr = spec.partition(":")
    try:
        target = _module(module_name, folder)
    except Exception as exc:  # noqa: BLE001  (the user's module: any error is the reason)
        raise FunctionError(f"cannot import {module_name!r} (from {folder} or the path): "
                            f"{type(exc).__name__}: {exc}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise FunctionError(f"{module_name!r} has no attribute {attr!r}")
        target = getattr(target, part)
    if not callable(target):
        raise FunctionError(f"{spec} is not callable")
    return target


def parameters(function: Callable) -> list[str]:
    """The names the function takes, as its signature says (not *args or **kwargs)."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return []
    return [p.name for p in signature.parameters.values()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def docstring(function: Callable) -> str | None:
    return inspect.getdoc(function) or None
