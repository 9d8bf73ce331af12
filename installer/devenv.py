#!/usr/bin/env python3
"""Set up everything on a fresh machine, then run the app or the tests.

    python3 installer/devenv.py run     # opens CoCM Desktop on the demo clinic
    python3 installer/devenv.py test    # runs the whole test suite

Only the Python standard library is needed to start: it makes `.venv` beside this repo
(Debian refuses system-wide pip installs), bootstraps pip into it when the system python has no
ensurepip (Debian without python3-venv), installs the package with its test extras, and runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".cocm-installed"


def _say(msg: str) -> None:
    print(f"[devenv] {msg}", flush=True)


def _bootstrap_pip() -> None:
    """No ensurepip: fetch pip's wheel from PyPI and let it install itself."""
    _say("this python has no ensurepip; fetching pip from PyPI")
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as resp:
        meta = json.load(resp)
    wheel = next(u for u in meta["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        whl = Path(tmp) / wheel["filename"]
        with urllib.request.urlopen(wheel["url"], timeout=120) as resp:
            whl.write_bytes(resp.read())
        zipfile.ZipFile(whl).testzip()
        subprocess.check_call([str(PY), f"{whl}/pip", "install", "--quiet", str(whl)])


# Shared libraries Qt loads even offscreen, and the Debian packages that provide them.
QT_LIBS = {
    "EGL": "libegl1", "GL": "libgl1", "fontconfig": "libfontconfig1", "xkbcommon": "libxkbcommon0",
    "dbus-1": "libdbus-1-3", "glib-2.0": "libglib2.0-0",
}
# On a real screen Qt's xcb plugin needs these too.
XCB_LIBS = {"xcb-cursor": "libxcb-cursor0", "xkbcommon-x11": "libxkbcommon-x11-0", "xcb-icccm": "libxcb-icccm4",
            "xcb-keysyms": "libxcb-keysyms1", "xcb-shape": "libxcb-shape0", "xcb-randr": "libxcb-randr0",
            "xcb-render-util": "libxcb-render-util0", "xcb-image": "libxcb-image0"}


def _has_postgresql() -> bool:
    """PostgreSQL 15 or newer where store/pg_cluster.py looks: PATH, Debian's and Windows' folders."""
    import glob

    if shutil.which("pg_ctl"):
        return True
    patterns = ["/usr/lib/postgresql/*/bin/pg_ctl"]
    if os.name == "nt":
        patterns = [str(Path(os.environ.get(v) or "C:/Program Files") / "PostgreSQL" / "*" / "bin" / "pg_ctl.exe")
                    for v in ("ProgramW6432", "ProgramFiles")]
    versions = [Path(p).parent.parent.name for pattern in patterns for p in glob.glob(pattern)]
    return any(v.split(".")[0].isdigit() and int(v.split(".")[0]) >= 15 for v in versions)


def ensure_system_libs(for_screen: bool, for_tests: bool = False) -> None:
    """Install missing Qt libraries (and, for the tests, PostgreSQL) with apt-get when we may;
    otherwise say exactly what to run."""
    if not sys.platform.startswith("linux"):
        if for_tests and not _has_postgresql():
            _say("the clinic server tests will be skipped: install PostgreSQL 15 or newer to run them")
        return
    from ctypes.util import find_library

    wanted = dict(QT_LIBS, **(XCB_LIBS if for_screen else {}))
    missing = sorted({pkg for lib, pkg in wanted.items() if find_library(lib) is None})
    if not for_screen and shutil.which("pdftoppm") is None:
        missing.append("poppler-utils")
    if for_tests and not _has_postgresql():
        missing.append("postgresql")  # the clinic server tests start their own private server
    if not missing:
        return
    cmd = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing]
    if shutil.which("apt-get") and hasattr(os, "geteuid") and os.geteuid() == 0:
        _say("installing system libraries Qt needs: " + " ".join(missing))
        subprocess.call(["apt-get", "update", "-qq"])
        subprocess.check_call(cmd, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    else:
        _say("Qt needs these system packages; install them once with:\n    sudo " + " ".join(cmd))


def ensure_venv() -> None:
    if not PY.exists():
        _say(f"creating virtual environment in {VENV}")
        try:
            venv.EnvBuilder(with_pip=True).create(VENV)
        except (subprocess.CalledProcessError, OSError):
            shutil.rmtree(VENV, ignore_errors=True)
            venv.EnvBuilder(with_pip=False).create(VENV)
        if subprocess.call([str(PY), "-m", "pip", "--version"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL) != 0:
            _bootstrap_pip()
    pyproject = ROOT / "pyproject.toml"
    if not STAMP.exists() or STAMP.stat().st_mtime < pyproject.stat().st_mtime:
        _say("installing CoCM Desktop and its dependencies (first run takes a minute)")
        subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
        subprocess.check_call([str(PY), "-m", "pip", "install", "--quiet", "-e", f"{ROOT}[test]"])
        STAMP.write_text("ok\n")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    ensure_system_libs(for_screen=argv[0] == "run" and not os.environ.get("QT_QPA_PLATFORM"),
                       for_tests=argv[0] == "test")
    ensure_venv()
    if argv[0] == "run":
        return subprocess.call([str(PY), "-m", "cocm_desktop", "--demo", *argv[1:]], cwd=ROOT)
    env = dict(os.environ, QT_QPA_PLATFORM=os.environ.get("QT_QPA_PLATFORM", "offscreen"))
    return subprocess.call([str(PY), "-m", "pytest", "-q", "-p", "no:cacheprovider", *argv[1:]],
                           cwd=ROOT, env=env)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
