"""The registry's facts cache filled in short rounds after a bulk load (what `server demo` does):
every open episode cached, each round its own transaction over at most 64 patients on the server,
and the cache equal to a fresh computation."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from cocm_desktop.services.common import load_policy
from cocm_desktop.services.registry import warm_cache
from cocm_desktop.services.registry_facts import cache_differences
from cocm_desktop.store.models import RegistryFacts

from .conftest import TODAY


def test_a_cold_cache_is_filled_in_rounds_and_equals_a_fresh_computation(build, engine_kind) -> None:  # type: ignore[no-untyped-def]
    episodes = [build.episode(TODAY - timedelta(days=30 + i % 20), baseline=10 + i % 12, family=f"Warm{i:02d}")
                for i in range(70)]
    with build.db.session() as s:
        s.execute(delete(RegistryFacts))  # derived, never a source of truth: as after a bulk load
    rounds = warm_cache(build.db, today=TODAY)
    # the server caches 64 patients per round (then the other 6, then finds none left); the file all at once
    assert rounds == (3 if engine_kind == "server" else 2)
    with build.db.session() as s:
        cached = s.scalar(select(func.count()).select_from(RegistryFacts)
                          .where(RegistryFacts.episode_id.in_(episodes)))
        assert cached == len(episodes)
        assert cache_differences(s, load_policy(s)) == []
    assert warm_cache(build.db, today=TODAY) == 1  # warm already: one look, nothing to do
