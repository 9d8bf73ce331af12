"""Where a database may live: a local disk. SQLite locking is not safe on SMB/NFS shares."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .errors import NetworkShare, ReadOnlyLocation

_NETWORK_FS = {"cifs", "smb3", "smbfs", "nfs", "nfs4", "afs", "ncpfs", "fuse.sshfs", "davfs", "9p"}


def _linux_fs_type(path: Path) -> str | None:
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return None
    best, fstype = "", None
    target = str(path)
    for line in mounts:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount_point = parts[1].replace("\\040", " ")
        if (target == mount_point or target.startswith(mount_point.rstrip("/") + "/")) and len(
            mount_point
        ) > len(best):
            best, fstype = mount_point, parts[2]
    return fstype


def is_network_path(path: Path) -> bool:
    raw = str(path)
    if raw.startswith(("\\\\", "//")):
        return True
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
        import ctypes

        drive = os.path.splitdrive(str(path.resolve()))[0] + "\\"
        return ctypes.windll.kernel32.GetDriveTypeW(drive) == 4  # DRIVE_REMOTE
    if sys.platform.startswith("linux"):
        return _linux_fs_type(path.resolve()) in _NETWORK_FS
    return False


def check_location(path: Path, *, for_writing: bool = True) -> None:
    if is_network_path(path):
        raise NetworkShare(
            f"“{path.name}” is on a network share. CoCM Desktop keeps its database on this "
            "computer's own disk, because shared folders can corrupt it. Copy it to a local "
            "folder (for example Documents) and open it there."
        )
    folder = path.parent
    if for_writing and not os.access(folder, os.W_OK | os.X_OK):
        raise ReadOnlyLocation(
            f"The folder holding “{path.name}” is read-only, so nothing could be saved. "
            "Move the database (with its .keys file) to a folder you can write to."
        )
    if for_writing and path.exists() and not os.access(path, os.W_OK):
        raise ReadOnlyLocation(
            f"“{path.name}” is marked read-only, so nothing could be saved. "
            "Ask IT to make it writable, or copy it (with its .keys file) to a writable folder."
        )
