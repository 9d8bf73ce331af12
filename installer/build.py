"""Build the CoCM Desktop bundle (one folder) and prove it works; optionally package it.

    python installer/build.py              # PyInstaller -> dist/cocm-desktop/, then its --self-check
    python installer/build.py --package    # ... and the installer: Windows setup.exe (Inno Setup 6)
                                           #     or a Linux .tar.gz with install-linux.sh
    python installer/build.py --clean      # rebuild from scratch (PyInstaller's cache cleared)

Runs on Windows, Linux and macOS with the project's venv Python (`pip install -e ".[installer]"`).
Exit code: 0 when the bundle was built and its self-check passed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

INSTALLER_DIR = Path(__file__).resolve().parent
ROOT = INSTALLER_DIR.parent
SPEC = INSTALLER_DIR / "cocm-desktop.spec"
ISS_TEMPLATE = INSTALLER_DIR / "cocm-desktop.iss"
DESKTOP_FILE = INSTALLER_DIR / "cocm-desktop.desktop"
LINUX_INSTALL = INSTALLER_DIR / "install-linux.sh"
WINDOWS = sys.platform == "win32"
PLACEHOLDER = re.compile(r"@[A-Z_]+@")

sys.path.insert(0, str(ROOT))
from cocm_desktop import APP_ID, __version__  # noqa: E402

sys.path.insert(0, str(INSTALLER_DIR))
from buildinfo import numeric_version  # noqa: E402


def fill_placeholders(template: str, values: dict[str, str]) -> str:
    """Replace every @NAME@; refuse to leave one unfilled (a setup built from it would be wrong)."""
    text = template
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    left = sorted(set(PLACEHOLDER.findall(text)))
    if left:
        raise SystemExit(f"Unfilled placeholders in the installer script: {', '.join(left)}")
    return text


def bundle_dir(dist: Path) -> Path:
    return dist / APP_ID


def self_check_executable(dist: Path) -> Path:
    """The console program of the bundle (on Windows the GUI .exe has no console to print to)."""
    if WINDOWS:
        return bundle_dir(dist) / f"{APP_ID}-cli.exe"
    return bundle_dir(dist) / APP_ID


def self_check_env() -> dict[str, str]:
    env = dict(os.environ)
    headless = not (WINDOWS or sys.platform == "darwin" or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if headless:
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    return env


def run_pyinstaller(dist: Path, work: Path, clean: bool) -> None:
    try:
        import PyInstaller  # noqa: F401
    except ImportError:
        raise SystemExit('PyInstaller is not installed here: pip install -e ".[installer]"') from None
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(dist), "--workpath", str(work), str(SPEC)]
    if clean:
        cmd.insert(3, "--clean")
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True)


def run_self_check(dist: Path) -> int:
    exe = self_check_executable(dist)
    if not exe.exists():
        print(f"The bundle has no {exe.name}: the build did not finish.", file=sys.stderr)
        return 1
    print(f"$ {exe} --self-check", flush=True)
    return subprocess.run([str(exe), "--self-check"], env=self_check_env(), cwd=dist).returncode


def find_iscc() -> Path | None:
    found = shutil.which("ISCC") or shutil.which("iscc")
    if found:
        return Path(found)
    for base in (os.environ.get("PROGRAMFILES(X86)"), os.environ.get("PROGRAMFILES"),
                 os.path.join(os.environ.get("LOCALAPPDATA", ""), "Programs")):
        if base and (Path(base) / "Inno Setup 6" / "ISCC.exe").exists():
            return Path(base) / "Inno Setup 6" / "ISCC.exe"
    return None


def package_windows(dist: Path, work: Path) -> Path:
    icon = work / "cocm-desktop" / f"{APP_ID}.ico"
    if not icon.exists():  # the spec writes it next to its work files; make it if built elsewhere
        from make_icon import svg_to_ico

        svg_to_ico(ROOT / "resources" / "icons" / "cocm-desktop.svg", icon)
    script = work / f"{APP_ID}.iss"
    script.write_text(fill_placeholders(ISS_TEMPLATE.read_text(encoding="utf-8"), {
        "APP_VERSION": __version__,
        "APP_VERSION_NUMERIC": numeric_version(__version__),
        "DIST_DIR": str(bundle_dir(dist)),
        "OUTPUT_DIR": str(dist),
        "ICON_FILE": str(icon),
    }), encoding="utf-8")
    iscc = find_iscc()
    if iscc is None:
        raise SystemExit(f"Inno Setup 6 is not installed (winget install JRSoftware.InnoSetup). "
                         f"The filled script is at {script}.")
    subprocess.run([str(iscc), "/Q", str(script)], check=True)
    return dist / f"{APP_ID}-{__version__}-setup.exe"


def package_linux(dist: Path) -> Path:
    folder = bundle_dir(dist)
    shutil.copy2(DESKTOP_FILE, folder / DESKTOP_FILE.name)
    shutil.copy2(LINUX_INSTALL, folder / "install.sh")
    (folder / "install.sh").chmod(0o755)
    archive = dist / f"{APP_ID}-{__version__}-linux-{platform.machine()}.tar.gz"
    with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
        tar.add(folder, arcname=APP_ID)
    return archive


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clean", action="store_true", help="clear PyInstaller's cache first")
    parser.add_argument("--package", action="store_true",
                        help="also build the installer (Windows: Inno Setup; Linux: .tar.gz)")
    parser.add_argument("--no-self-check", action="store_true", help="skip running the bundle's self-check")
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--work", type=Path, default=ROOT / "build", help="PyInstaller's work folder")
    args = parser.parse_args(argv)
    dist, work = args.dist.resolve(), args.work.resolve()

    started = time.perf_counter()
    run_pyinstaller(dist, work, args.clean)
    built = time.perf_counter()
    print(f"Built {bundle_dir(dist)} in {built - started:.0f} s.", flush=True)
    if not args.no_self_check:
        code = run_self_check(dist)
        if code != 0:
            print(f"The bundle's self-check FAILED (exit {code}); do not ship it.", file=sys.stderr)
            return code
    if args.package:
        artifact = package_windows(dist, work) if WINDOWS else package_linux(dist)
        print(f"Installer: {artifact}")
    print(f"Done in {time.perf_counter() - started:.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
