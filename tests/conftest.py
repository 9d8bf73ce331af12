"""Shared fixtures: real encrypted databases in temp folders, Qt offscreen.

A template clinic (a demo clinic: the six demo logins, password "demo") is created once per test session and
copied for each test: Argon2id makes every slot cost ~0.1 s, so copying keeps the suite fast
while every test still opens a real SQLCipher file with a real key.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# What this computer account remembers of each clinic's audit log (store.account_memory) goes to
# a temp folder, never the tester's own user data folder; child processes inherit it.
os.environ.setdefault("COCM_DESKTOP_ACCOUNT_DIR", tempfile.mkdtemp(prefix="cocm-account-memory-"))

from cocm_desktop.domain.actor import Actor  # noqa: E402
from cocm_desktop.store.database import Database  # noqa: E402
from cocm_desktop.store.keyslots import keyfile_path  # noqa: E402

PASSWORD = "demo"


def copy_db(src: Path, dest_dir: Path, name: str = "clinic.db") -> Path:
    dest = dest_dir / name
    shutil.copy2(src, dest)
    shutil.copy2(keyfile_path(src), keyfile_path(dest))
    return dest


@pytest.fixture(scope="session")
def template_clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty clinic with one user per role; copied, never opened for writing directly.

    A demo clinic (the demo generator's first step): its logins keep the password "demo", which
    the password rules refuse in a real clinic. Tests of those rules add their own users.
    """
    from cocm_desktop.demo import create_demo_clinic

    path = tmp_path_factory.mktemp("template") / "clinic.db"
    create_demo_clinic(path, clinic_name="Test Clinic", password=PASSWORD).close()
    return path


@pytest.fixture
def clinic_path(template_clinic: Path, tmp_path: Path) -> Path:
    return copy_db(template_clinic, tmp_path)


@pytest.fixture
def clinic(clinic_path: Path) -> Iterator[Database]:
    """A fresh encrypted clinic database, unlocked by the clinic lead."""
    db = Database.open(clinic_path, "lead", PASSWORD)
    yield db
    db.close()


@pytest.fixture
def actors(clinic: Database) -> dict[str, Actor]:
    """Actor per username (lead, cm1, cm2, psych, doc1, doc2) for calling services."""
    from sqlalchemy import select

    from cocm_desktop.store.models import User

    with clinic.session() as s:
        return {
            u.username: Actor(u.id, u.username, u.display_name, u.role)
            for u in s.scalars(select(User))
        }


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo clinic (60 patients, fixed seed and date), generated once per session."""
    from datetime import date

    from cocm_desktop.demo import generate_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    generate_demo(path, patients=60, seed=7, today=date(2026, 11, 24))
    return path


@pytest.fixture
def demo_path(demo_template: Path, tmp_path: Path) -> Path:
    return copy_db(demo_template, tmp_path, "demo.db")


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """umask 022, the usual default: a file written without care comes out -rw-r--r--."""
    old = os.umask(0o022)
    yield
    os.umask(old)
