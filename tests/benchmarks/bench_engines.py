"""The same figures on both engines, side by side: the encrypted file and the clinic server.

    .venv/bin/python tests/benchmarks/bench_engines.py --patients 10000 --runs 5 --keep /tmp/bench-s6

Builds (or reuses, with --keep) the demo clinic twice from the same seed: a file and a clinic on a
private PostgreSQL started in the folder (TLS over loopback, as `server demo` does; stopped at the
end unless kept). A kept clinic made by an older schema is upgraded the way the app does it (the
file when it is opened, the server as `server init` does); a kept server whose admin password was
not kept is rebuilt. A kept clinic is not rebuilt when only the demo generator changed: delete the
folder (stop its server first: `cocm-desktop server stop --dir DIR/server`) to measure new demo data.

Then, in one child process per engine (so each peak memory is its own), as the clinic lead:
registry rows of all open episodes with the facts cache warm (the server fills it over many reads:
at most 64 patients per read, store.write_locks; the child reads until it is full), the same rows
with every fact computed afresh (a cold cache), one chart opened (median over 7 patients
spread across the registry), the October billing month, and — as a care manager, like
run_benchmarks.py — the case-review packet of one session of median size (its data, and data + PDF;
each run rolled back, as printing audits it), and the process's peak memory. Medians of --runs
after a warm-up, CPU time beside wall time, and the SQL statements one chart open sends.
Targets on the server (issue 16): registry ≤ 400 ms, chart ≤ 50 ms, billing month ≤ 2 s.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 24)
MONTH = "2026-10"
PASSWORD = "demo"
ADMIN_PASSWORD_FILE = "bench-admin-password"
TARGETS = {"registry": 400.0, "chart": 50.0, "billing": 2000.0}


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, float, object]:
    """(median wall ms, median CPU ms, last result) of `runs` calls after one warm-up."""
    result = fn()
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        result = fn()
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return statistics.median(wall), statistics.median(cpu), result


# ---------------------------------------------------------------------------------------------
# Building (or reusing) the two clinics


def build(folder: Path, patients: int, engines: list[str]):  # type: ignore[no-untyped-def]
    """The clinics of `engines` in `folder`, made or kept; the running cluster (None: no server)."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)
    if "file" in engines:
        file_path = folder / "clinic.db"
        if file_path.exists():
            _upgrade_kept_file(file_path)
        else:
            from cocm_desktop.demo import generate_demo

            t = time.perf_counter()
            generate_demo(file_path, patients=patients, seed=7, today=TODAY)
            print(f"file clinic built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if "server" not in engines:
        return None
    server_dir = folder / "server"
    if (server_dir / "profile.json").exists():
        cluster = _kept_server(server_dir)
        if cluster is not None:
            return cluster
    return _build_server(server_dir, patients)


def _upgrade_kept_file(path: Path) -> None:
    """Opening a file clinic upgrades an older schema (after an encrypted copy), as the app does."""
    from cocm_desktop.store.database import Database

    before = set(path.parent.glob(f"{path.stem}.before-upgrade-*"))
    Database.open(path, "lead", PASSWORD).close()
    copies = sorted(p.name for p in set(path.parent.glob(f"{path.stem}.before-upgrade-*")) - before)
    if copies:
        print(f"The kept file clinic had an older schema; opening it upgraded it as the app does "
              f"(the copy before is {', '.join(c for c in copies if not c.endswith('.keys'))}).", file=sys.stderr)


def _kept_server(server_dir: Path):  # type: ignore[no-untyped-def]
    """The kept cluster, running, its clinic at the head schema; None when it must be rebuilt."""
    from cocm_desktop.store import migrate
    from cocm_desktop.store.errors import NewerSchema
    from cocm_desktop.store.pg_cluster import PgCluster
    from cocm_desktop.store.server_database import ServerDatabase, admin_engine, prepare_database
    from cocm_desktop.store.server_profile import ServerProfile

    cluster = PgCluster.open(server_dir)
    if not cluster.is_running():
        cluster.start()
    profile = ServerProfile.load(server_dir / "profile.json")
    try:
        ServerDatabase.open(profile, "lead", PASSWORD).close()
        return cluster
    except NewerSchema as e:
        refused = str(e)
    password = _admin_password(server_dir)
    if password is None:  # made before this script kept it: cannot upgrade as `server init` does
        print(f"The kept server clinic in {server_dir} is not at this code's schema ({refused}) and its admin "
              "password was not kept; building it again (minutes).", file=sys.stderr)
        cluster.stop()
        shutil.rmtree(server_dir)
        return None
    engine = admin_engine(cluster.admin_dsn(), password, profile.dbname)
    try:
        with engine.connect() as conn:
            current = migrate.current_revision(conn)
    finally:
        engine.dispose()
    head = migrate.head_revision()
    if current is not None and current > head:
        raise SystemExit(f"The kept server clinic in {server_dir} was made by a newer schema ({current}) than "
                         f"this code ({head}); delete that folder or run the newer code.")
    print(f"The kept server clinic has schema {current}, older than this code's {head}; upgrading it as "
          "`cocm-desktop server init` does.", file=sys.stderr)
    prepare_database(cluster.admin_dsn(), password, profile.dbname).dispose()
    return cluster


def _admin_password(server_dir: Path) -> str | None:
    path = server_dir / ADMIN_PASSWORD_FILE
    return path.read_text() if path.exists() else None


def _build_server(server_dir: Path, patients: int):  # type: ignore[no-untyped-def]
    from cocm_desktop.demo.server_demo import create_server_demo
    from cocm_desktop.store.pg_cluster import PgCluster
    from cocm_desktop.store.server_profile import ServerProfile

    admin_password = secrets.token_urlsafe(18)
    cluster = PgCluster.init(server_dir, admin_password=admin_password)
    # A throwaway benchmark server: its admin password stays beside it (0600), so a later run
    # can upgrade the kept clinic the way `server init` does.
    _write_secret(server_dir / ADMIN_PASSWORD_FILE, admin_password)
    cluster.start()
    profile = ServerProfile(host=cluster.host, port=cluster.port, dbname="cocm_bench", ca_cert=cluster.ca_cert_path)
    t = time.perf_counter()
    create_server_demo(cluster.admin_dsn(), admin_password, profile, patients=patients, seed=7, today=TODAY)
    profile.save(server_dir / "profile.json")
    print(f"server clinic built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return cluster


# ---------------------------------------------------------------------------------------------
# Measuring (in a child process per engine)


class StatementCounter:
    """Counts the SQL statements every engine in this process sends (one per round trip)."""

    def __init__(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        self.count = 0
        event.listen(Engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: object) -> None:
        self.count += 1


def figures(open_db: Callable[[str], object], runs: int) -> dict[str, float]:
    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.services.chart import open_chart
    from cocm_desktop.services.registry import build_registry, collect

    counter = StatementCounter()
    out: dict[str, float] = {}
    db = open_db("lead")
    actor = db.actor  # type: ignore[attr-defined]

    def in_session(fn):  # type: ignore[no-untyped-def]
        with db.session() as s:  # type: ignore[attr-defined]
            return fn(s)

    out["registry warm-up reads"] = warm_registry(db)
    gc.collect()
    out["registry"], out["registry cpu"], rows = median_ms(
        lambda: in_session(lambda s: build_registry(s, actor, today=TODAY)), runs)
    out["registry rows"] = len(rows)  # type: ignore[arg-type]
    picks = [rows[i].patient_id for i in range(0, len(rows), max(1, len(rows) // 7))][:7]  # type: ignore[index]
    charts = [median_ms(lambda pid=pid: in_session(lambda s: open_chart(s, actor, patient_id=pid, today=TODAY)),
                        max(1, runs // 2))[:2] for pid in picks]
    out["chart"] = statistics.median(c[0] for c in charts)
    out["chart cpu"] = statistics.median(c[1] for c in charts)
    before = counter.count
    for pid in picks:
        in_session(lambda s, pid=pid: open_chart(s, actor, patient_id=pid, today=TODAY))
    out["chart statements"] = (counter.count - before) / len(picks)
    gc.collect()
    out["billing"], out["billing cpu"], bm = median_ms(
        lambda: in_session(lambda s: compute_billing_month(s, MONTH, today=TODAY, generated_by="Benchmark")), runs)
    out["billing rows"] = len(bm.rows)  # type: ignore[attr-defined]
    db.close()  # type: ignore[attr-defined]
    gc.collect()
    out.update(packet_figures(open_db("cm1"), runs))
    out["peak MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # Last, as its many objects would slow the collections of the figures above: what a read costs
    # when no facts are cached (after a bulk import, and on the server at a new month until reads
    # have filled the cache): every fact computed afresh, nothing stored.
    db = open_db("lead")
    out["registry cold"], out["registry cold cpu"], _ = median_ms(
        lambda: in_session(lambda s: collect(s, today=TODAY, cached=False)), max(1, runs // 2))
    db.close()  # type: ignore[attr-defined]
    return out


def warm_registry(db, limit: int = 400) -> int:  # type: ignore[no-untyped-def]
    """Registry reads until every open episode's facts are cached for this month; how many it took.

    The file engine caches every row on the first read. The server caches at most
    `write_locks.READ_PATIENT_LOCKS` patients per read (so a read never holds many locks), so a
    clinic built or imported by bulk set-up, or a new month, fills its cache over many reads."""
    from sqlalchemy import select

    from cocm_desktop.services.registry import build_registry
    from cocm_desktop.store.models import RegistryFacts

    month = TODAY.replace(day=1)
    t = time.perf_counter()
    reads, filled = 0, False
    while not filled and reads < limit:
        reads += 1
        with db.session() as s:
            wanted = {r.episode_id for r in build_registry(s, db.actor, today=TODAY)}
        with db.session() as s:
            cached = set(s.scalars(select(RegistryFacts.episode_id).where(RegistryFacts.billing_month == month)))
        filled = wanted <= cached
    if reads > 1:
        print(f"registry facts cache filled by {reads} reads in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return reads


def packet_figures(db, runs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """One care manager's next case-review session of median agenda size, as run_benchmarks.py."""
    from sqlalchemy import Integer, func, select

    from cocm_desktop.reports.case_review_packet import build_case_review_packet
    from cocm_desktop.services.case_review_packet import packet_data
    from cocm_desktop.store.models import AgendaItem, CaseReviewSession

    with db:
        with db.session() as s:
            upcoming = s.execute(
                select(CaseReviewSession.id, func.count(AgendaItem.id),
                       func.sum(AgendaItem.not_reached.cast(Integer)))
                .join(AgendaItem, AgendaItem.session_id == CaseReviewSession.id)
                .where(CaseReviewSession.session_on >= TODAY, AgendaItem.removed.is_(False))
                .group_by(CaseReviewSession.id)).all()
        sized = sorted(((n - int(nr or 0), sid) for sid, n, nr in upcoming))
        on_agenda, sid = sized[len(sized) // 2]

        def data():  # type: ignore[no-untyped-def]
            with db.session() as s:
                packet = packet_data(s, db.actor, session_id=sid, today=TODAY)
                s.rollback()  # printing audits the packet; leave the clinic as it was
            return packet

        out: dict[str, float] = {"packet patients": on_agenda}
        out["packet data"], out["packet data cpu"], _ = median_ms(data, runs)
        out["packet"], _, pdf = median_ms(lambda: build_case_review_packet(data()), max(1, min(runs, 3)))
        out["packet pages"] = pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages")  # type: ignore[attr-defined]
    return out


def child(engine: str, folder: Path, runs: int) -> int:
    from cocm_desktop.store.database import Database
    from cocm_desktop.store.server_database import ServerDatabase
    from cocm_desktop.store.server_profile import ServerProfile

    def open_db(user: str):  # type: ignore[no-untyped-def]
        if engine == "file":
            return Database.open(folder / "clinic.db", user, PASSWORD)
        return ServerDatabase.open(ServerProfile.load(folder / "server" / "profile.json"), user, PASSWORD)

    print(json.dumps(figures(open_db, runs)))
    return 0


# ---------------------------------------------------------------------------------------------


def run_child(engine: str, folder: Path, runs: int) -> dict[str, float]:
    done = subprocess.run([sys.executable, __file__, "--child", engine, "--keep", str(folder), "--runs", str(runs)],
                          capture_output=True, text=True)
    sys.stderr.write(done.stderr)  # the child's notes (cache warm-up) and, when it failed, its error
    if done.returncode != 0:
        raise SystemExit(f"Measuring the {engine} engine failed (exit {done.returncode}); its error is above.")
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def print_table(patients: int, runs: int, on_file: dict[str, float], on_server: dict[str, float]) -> None:
    print(f"{patients} patients, medians of {runs} runs ({int(on_file['registry rows'])} registry rows, "
          f"{int(on_file['billing rows'])} patient-months, packet of {int(on_file['packet patients'])} patients "
          f"/ {int(on_file['packet pages'])} pages); load average {os.getloadavg()[0]:.2f} at the end")
    print(f"{'figure':<36}{'encrypted file':>16}{'clinic server':>16}{'server target':>18}")
    rows = (("registry", "registry rows (warm facts)", "ms"), ("registry cpu", "  CPU", "ms"),
            ("registry cold", "registry, facts computed afresh", "ms"), ("registry cold cpu", "  CPU", "ms"),
            ("chart", "open one chart", "ms"), ("chart cpu", "  CPU", "ms"),
            ("chart statements", "  SQL statements per open", ""),
            ("billing", "billing month (Oct)", "ms"), ("billing cpu", "  CPU", "ms"),
            ("packet data", "case-review packet data", "ms"), ("packet data cpu", "  CPU", "ms"),
            ("packet", "case-review packet data + PDF", "ms"), ("peak MB", "peak memory (process)", "MB"))
    for key, label, unit in rows:
        target = TARGETS.get(key)
        mark = "" if target is None else (" ok" if on_server[key] <= target else " MISSED")
        t_text = f"≤ {target:.0f} {unit}{mark}" if target else "—"
        print(f"{label:<36}{on_file[key]:>13.1f} {unit:<2}{on_server[key]:>13.1f} {unit:<2}{t_text:>16}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse/keep both clinics in this folder")
    parser.add_argument("--engine", choices=("file", "server"), action="append",
                        help="measure only this engine (repeatable; default both)")
    parser.add_argument("--child", choices=("file", "server"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.keep, args.runs)
    folder = args.keep or Path(tempfile.mkdtemp(prefix="cocm-bench-engines-"))
    engines = args.engine or ["file", "server"]
    cluster = build(folder, args.patients, engines)
    print(f"load average before measuring: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        results = {engine: run_child(engine, folder, args.runs) for engine in engines}
    finally:
        if args.keep is None and cluster is not None:
            cluster.stop()  # type: ignore[attr-defined]
    if len(results) == 2:
        print_table(args.patients, args.runs, results["file"], results["server"])
    else:
        print(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
