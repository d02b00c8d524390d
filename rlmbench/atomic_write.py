"""Write-then-rename, so an interrupted write never leaves a truncated file behind.

The temporary file is opened like any other (`open(..., "xb")`), so the result gets the user's usual
permissions (their umask): `tempfile.mkstemp` would make it 0600, unreadable to a teammate on a shared
machine beside files of 0644.
"""

from __future__ import annotations

import itertools
import os
import threading
from pathlib import Path

_serial = itertools.count()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.{next(_serial)}.tmp")
    try:
        with open(tmp, "xb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
