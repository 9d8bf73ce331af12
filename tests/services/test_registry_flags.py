"""Registry rows and every flag, table-driven with frozen dates on a real encrypted database."""

from __future__ import annotations

from datetime import date, timedelta

from cocm_desktop.services.registry import build_registry

TODAY = date(2026, 11, 24)


def rows(build, **kw):  # type: ignore[no-untyped-def]
    with build.db.session() as s:
        return build_registry(s, build.actors["cm1"], today=TODAY, **kw)


def test_smoke(build) -> None:  # type: ignore[no-untyped-def]
    e = build.episode(TODAY - timedelta(days=30), baseline=16)
    build.measure(e, TODAY - timedelta(days=3), 7)
    build.contact(e, TODAY - timedelta(days=3), minutes=20)
    (r,) = rows(build)
    print(r)
    assert r.phq9_baseline == 16 and r.phq9_last == 7
