"""What a wheel of cocm-desktop carries, as setuptools itself computes it from pyproject.toml (its
build_py file lists, without building anything).

The app finds its stylesheet, icons and report fonts in `cocm_desktop/resources/` when it is
installed from a wheel (gui.resources, reports.pdf_common, selfcheck); the files come from the
top-level resources/ folder. Building and installing a real wheel is the manual check
(see the helper's notes); this keeps the configuration honest on every run.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import pytest
import setuptools  # noqa: F401 - first: makes `distutils` setuptools' own

ROOT = Path(__file__).resolve().parents[2]
RESOURCES = ROOT / "resources"
NOT_SHIPPED = {"README.md", "screenshots"}  # developer documentation, not used by the app


@pytest.fixture(scope="module")
def configured():  # type: ignore[no-untyped-def]
    """setuptools' Distribution as `pip wheel .` configures it from pyproject.toml."""
    from setuptools.dist import Distribution

    here = Path.cwd()
    try:
        os.chdir(ROOT)  # the package-dir mapping and the package-data globs are relative
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # setuptools' notes about beta/deprecated options
            dist = Distribution({"script_name": "pyproject.toml"})
            dist.parse_config_files()  # reads pyproject.toml
        yield dist
    finally:
        os.chdir(here)


def test_every_package_is_listed(configured) -> None:  # type: ignore[no-untyped-def]
    """A package missing from the list would still ship, as data, with a deprecation warning."""
    from setuptools import find_namespace_packages

    code = find_namespace_packages(str(ROOT), include=["cocm_desktop*"])
    data = ["cocm_desktop.resources"] + [
        f"cocm_desktop.resources.{p.name}" for p in RESOURCES.iterdir() if p.is_dir() and p.name not in NOT_SHIPPED
    ]
    assert sorted(configured.packages) == sorted([*code, *data])


@pytest.fixture(scope="module")
def wheel_files(configured) -> set[str]:  # type: ignore[no-untyped-def]
    """Paths inside the wheel of every data file and every module setuptools would install."""
    here = Path.cwd()
    try:
        os.chdir(ROOT)
        build_py = configured.get_command_obj("build_py")
        build_py.ensure_finalized()
        files = {
            (Path(build_dir).relative_to(build_py.build_lib) / name).as_posix()
            for _package, _src, build_dir, names in build_py.data_files
            for name in names
        }
        files |= {
            f"{package.replace('.', '/')}/{module}.py"
            for package, module, _src in build_py.find_all_modules()
        }
    finally:
        os.chdir(here)
    return files


def test_every_app_resource_is_in_the_wheel_under_the_package(wheel_files: set[str]) -> None:
    expected = {
        f"cocm_desktop/resources/{path.relative_to(RESOURCES).as_posix()}"
        for path in RESOURCES.rglob("*")
        if path.is_file() and path.relative_to(RESOURCES).parts[0] not in NOT_SHIPPED
    }
    assert "cocm_desktop/resources/style.qss" in expected
    assert "cocm_desktop/resources/fonts/DejaVuSans.ttf" in expected
    assert "cocm_desktop/resources/fonts/LICENSE" in expected  # the font's licence travels with it
    assert "cocm_desktop/resources/icons/cocm-desktop.svg" in expected
    # the common-password list the password rules read, with its licence (services.passwords)
    assert "cocm_desktop/resources/passwords/common-passwords.txt.gz" in expected
    assert "cocm_desktop/resources/passwords/LICENSE" in expected
    shipped = {f for f in wheel_files if f.startswith("cocm_desktop/resources/")}
    assert shipped == expected


def test_every_module_and_migration_is_in_the_wheel(wheel_files: set[str]) -> None:
    package = ROOT / "cocm_desktop"
    expected = {path.relative_to(ROOT).as_posix() for path in package.rglob("*.py")}
    missing = expected - wheel_files
    assert not missing, f"not in the wheel: {sorted(missing)}"
    assert "cocm_desktop/store/migrations/env.py" in wheel_files
