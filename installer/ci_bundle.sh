#!/usr/bin/env bash
# CI (Linux): build the one-folder bundle with PyInstaller and run its --self-check.
#
#   bash installer/ci_bundle.sh [VENV]      (VENV defaults to .venv; run from anywhere)
#
# Installs what the build needs (binutils for objdump, PyInstaller into VENV), builds
# dist/cocm-desktop/ and runs dist/cocm-desktop/cocm-desktop --self-check with Qt offscreen.
# Exit code 0 only when the bundle built and its self-check passed.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${1:-.venv}
case "$VENV" in /*) ;; *) VENV="$ROOT/$VENV" ;; esac
PY="$VENV/bin/python"
[ -x "$PY" ] || { echo "ci_bundle: no Python at $PY" >&2; exit 2; }
cd "$ROOT"
started=$(date +%s)

# PyInstaller reads shared-library dependencies with objdump/ldd (binutils, libc-bin).
if ! command -v objdump >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    if command -v apt-get >/dev/null 2>&1; then
        echo "ci_bundle: installing binutils (objdump) ..."
        $SUDO apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends binutils >/dev/null
    else
        echo "ci_bundle: objdump missing; install binutils" >&2; exit 2
    fi
fi

# The `installer` extra of pyproject.toml (PyInstaller), without reinstalling the package itself.
mapfile -t REQS < <("$PY" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["installer"]))')
"$PY" -m pip install --quiet --disable-pip-version-check "${REQS[@]}"

rm -rf dist/cocm-desktop
"$PY" installer/build.py --no-self-check

echo "ci_bundle: bundle size $(du -sh dist/cocm-desktop | cut -f1)"
QT_QPA_PLATFORM=offscreen dist/cocm-desktop/cocm-desktop --self-check

# The bundle must offer the same headless commands as the source tree (commands/ is discovered
# with pkgutil at run time; a module missing from the bundle would silently vanish from --help).
for sub in "" report; do
    # shellcheck disable=SC2086 # $sub is empty or one word on purpose
    "$PY" -m cocm_desktop $sub --help > build/help-source.txt 2>/dev/null || continue
    # shellcheck disable=SC2086
    QT_QPA_PLATFORM=offscreen dist/cocm-desktop/cocm-desktop $sub --help > build/help-bundle.txt
    if ! diff -u build/help-source.txt build/help-bundle.txt; then
        echo "ci_bundle: the bundle's commands differ from the source tree's (see diff above)" >&2
        exit 1
    fi
done

echo "ci_bundle: bundle built and self-checked in $(( $(date +%s) - started )) s"
