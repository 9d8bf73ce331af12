"""Every file the app writes (reports, exports): only where the user said, owner-only, whole or not at all.

A report holds PHI: it must not be readable by other accounts on the workstation, and a crash, a
kill or a full disk must never leave a truncated copy under the real name, nor wipe the previous
complete one. So every writer goes through `private_file` (streamed) or `write_private` (bytes):
the data go to a hidden temp name in the target folder (`.NAME.cocm-partial-RANDOM`, created
exclusively and owner-only), are fsynced, renamed over the real name with `os.replace`, and the
folder is fsynced. What a killed run leaves behind is only such a temp copy; `remove_leftovers`
deletes those at the next start (and before every save into that folder).
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Literal, overload

__all__ = [
    "LEFTOVER_AGE_SECONDS",
    "PARTIAL_GLOB",
    "OutputError",
    "fsync_dir",
    "private_file",
    "remove_leftovers",
    "temp_name",
    "write_private",
]

log = logging.getLogger(__name__)

PARTIAL_MARK = ".cocm-partial-"
PARTIAL_GLOB = f".*{PARTIAL_MARK}*"
# A writer refreshes its temp file's mtime with every write and renames it within seconds to
# minutes (the largest export, a 2,000-patient registry, takes seconds), so a temp copy untouched
# for an hour has no live writer: removing it can never pull a file from under a running save.
LEFTOVER_AGE_SECONDS = 3600.0


class OutputError(OSError):
    """The file could not be written; the message is one plain sentence (no traceback for the user)."""


def temp_name(final_name: str) -> str:
    """Hidden sibling name for writing `final_name`; random, so two writers never share one."""
    # The name is capped so the temp name stays within the 255-byte file name limit.
    return f".{final_name[:60]}{PARTIAL_MARK}{secrets.token_hex(6)}"


def fsync_dir(folder: str | os.PathLike[str]) -> None:
    """Make a rename in `folder` durable (POSIX); a no-op where folders cannot be opened (Windows)."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems (network shares) refuse a folder fsync; the rename itself is done
    finally:
        os.close(fd)


def _failed(target: Path, exc: OSError) -> OutputError:
    return OutputError(f"{target} could not be written: {exc.strerror or exc}.")


@overload
def private_file(path: str | os.PathLike[str], *, text: Literal[False] = ...) -> contextlib.AbstractContextManager[IO[bytes]]: ...
@overload
def private_file(path: str | os.PathLike[str], *, text: Literal[True], encoding: str = ...,
                 newline: str | None = ...) -> contextlib.AbstractContextManager[IO[str]]: ...
def private_file(path: str | os.PathLike[str], *, text: bool = False, encoding: str = "utf-8",
                 newline: str | None = "") -> contextlib.AbstractContextManager[IO[Any]]:
    """Open `path` for writing as a whole: `with private_file(p, text=True) as fh: ...`.

    The body writes to a temp name in the same folder (mode 0600, whatever the umask); only when it
    ends normally is the file fsynced and renamed to `path`. An exception, a kill or a closed laptop
    lid before that leaves `path` as it was. Text mode defaults to newline="" for the csv module.
    Errors of the file system come out as `OutputError` with a plain message.
    """
    return _private_file(Path(path), text, encoding, newline)


@contextlib.contextmanager
def _private_file(target: Path, text: bool, encoding: str, newline: str | None) -> Iterator[IO[Any]]:
    folder = target.parent
    remove_leftovers(folder)
    tmp = folder / temp_name(target.name)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
    except OSError as exc:
        raise _failed(target, exc) from exc
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # owner-only even under an odd umask
        fh: IO[Any] = os.fdopen(fd, "w", encoding=encoding, newline=newline) if text else os.fdopen(fd, "wb")
        with fh:
            try:
                yield fh
            except OSError as exc:  # a write in the body failed (disk full, stick pulled)
                raise _failed(target, exc) from exc
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except OutputError:
        _discard(tmp)
        raise
    except OSError as exc:
        _discard(tmp)
        raise _failed(target, exc) from exc
    except BaseException:
        _discard(tmp)
        raise
    fsync_dir(folder)


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def write_private(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` as a whole, owner-only (see `private_file`)."""
    target = Path(path)
    with private_file(target) as fh:
        fh.write(data)
    return target


def remove_leftovers(
    folder: str | os.PathLike[str],
    patterns: Iterable[str] = (PARTIAL_GLOB,),
    *,
    older_than: float = LEFTOVER_AGE_SECONDS,
) -> list[Path]:
    """Delete temp copies that killed runs left in `folder`; returns what was removed.

    Only regular files matching `patterns` (default: this module's temp names) whose last write is
    more than `older_than` seconds ago: a file being written right now is never touched. Never
    raises: a folder that cannot be read or a file that cannot be removed is simply skipped.
    """
    removed: list[Path] = []
    cutoff = time.time() - older_than
    try:
        candidates = sorted({p for pattern in patterns for p in Path(folder).glob(pattern)})
    except OSError:
        return removed
    for path in candidates:
        try:
            st = os.lstat(path)
            if not stat.S_ISREG(st.st_mode) or st.st_mtime > cutoff:
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    if removed:
        log.info("removed %d leftover temporary file(s) of interrupted saves", len(removed))
    return removed
