"""Saving a report: only where the user said, owner-only, and never half-written."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` via a hidden sibling temp file (mode 0600), fsync, then rename.

    A report holds PHI: it must not be readable by other accounts on the workstation, and a
    crash or full disk must not leave a truncated copy behind under the real name.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
    return target
