"""Where files live on this workstation."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path

from cocm_desktop import APP_ID

DEMO_DB_NAME = "demo-clinic.db"


def data_dir() -> Path:
    path = user_data_path(APP_ID, appauthor=False, ensure_exists=True)
    return path


def demo_db_path() -> Path:
    return data_dir() / DEMO_DB_NAME
