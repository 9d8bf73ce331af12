"""The same figures on both engines, side by side: the encrypted file and the clinic server.

    .venv/bin/python tests/benchmarks/bench_engines.py --patients 10000 --runs 5 --keep /tmp/bench-engines

Builds (or reuses, with --keep) the demo clinic twice from the same seed: a file and a clinic on a
private PostgreSQL started in the folder (TLS over loopback, as `server demo` does; stopped at the
end). Then, as the clinic lead on each: registry rows of all open episodes (facts cache warm), one
chart opened (median over patients across the registry), the October billing month, one
case-review session's packet data, and this process's peak memory. Medians of --runs after a
warm-up. Targets on the server (issue 16): registry ≤ 400 ms, chart ≤ 50 ms, billing month ≤ 2 s.
"""

from __future__ import annotations

import argparse
import gc
import resource
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

TODAY = date(2026, 11, 24)
MONTH = "2026-10"
PASSWORD = "demo"


def median_ms(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    result = fn()  # warm-up
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), result


def build(folder: Path, patients: int) -> tuple[Path, Path, object]:
    """(clinic file, server profile, running cluster)."""
    from cocm_desktop.demo import generate_demo
    from cocm_desktop.demo.server_demo import create_server_demo
    from cocm_desktop.store.pg_cluster import PgCluster
    from cocm_desktop.store.server_profile import ServerProfile

    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o711)
    file_path = folder / "clinic.db"
    if not file_path.exists():
        t = time.perf_counter()
        generate_demo(file_path, patients=patients, seed=7, today=TODAY)
        print(f"file clinic built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    server_dir = folder / "server"
    profile_path = server_dir / "profile.json"
    if profile_path.exists():
        cluster = PgCluster.open(server_dir)
        if not cluster.is_running():
            cluster.start()
    else:
        admin_password = secrets.token_urlsafe(18)
        cluster = PgCluster.init(server_dir, admin_password=admin_password)
        cluster.start()
        profile = ServerProfile(host=cluster.host, port=cluster.port, dbname="cocm_bench",
                                ca_cert=cluster.ca_cert_path)
        t = time.perf_counter()
        create_server_demo(cluster.admin_dsn(), admin_password, profile, patients=patients, seed=7, today=TODAY)
        profile.save(profile_path)
        print(f"server clinic built in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return file_path, profile_path, cluster


def figures(db, runs: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from cocm_desktop.services.billing_month import compute_billing_month
    from cocm_desktop.services.chart import open_chart
    from cocm_desktop.services.registry import build_registry

    actor = db.actor
    out: dict[str, float] = {}

    def in_session(fn):  # type: ignore[no-untyped-def]
        with db.session() as s:
            return fn(s)

    gc.collect()
    out["registry"], rows = median_ms(lambda: in_session(lambda s: build_registry(s, actor, today=TODAY)), runs)
    out["registry rows"] = len(rows)  # type: ignore[arg-type]
    picks = [rows[i].patient_id for i in range(0, len(rows), max(1, len(rows) // 7))][:7]  # type: ignore[index]
    chart = [median_ms(lambda pid=pid: in_session(lambda s: open_chart(s, actor, patient_id=pid, today=TODAY)),
                       max(1, runs // 2))[0] for pid in picks]
    out["chart"] = statistics.median(chart)
    gc.collect()
    out["billing"], bm = median_ms(
        lambda: in_session(lambda s: compute_billing_month(s, MONTH, today=TODAY, generated_by="Benchmark")), runs)
    out["billing rows"] = len(bm.rows)  # type: ignore[attr-defined]
    out["peak MB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def child(engine: str, folder: Path, runs: int) -> int:
    """One engine in its own process, so each peak memory is its own."""
    import json

    from cocm_desktop.store.database import Database
    from cocm_desktop.store.server_database import ServerDatabase
    from cocm_desktop.store.server_profile import ServerProfile

    if engine == "file":
        db = Database.open(folder / "clinic.db", "lead", PASSWORD)
    else:
        db = ServerDatabase.open(ServerProfile.load(folder / "server" / "profile.json"), "lead", PASSWORD)  # type: ignore[assignment]
    with db:
        print(json.dumps(figures(db, runs)))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--patients", type=int, default=10000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="reuse/keep both clinics in this folder")
    parser.add_argument("--child", choices=("file", "server"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.keep, args.runs)
    import json
    import subprocess
    import tempfile

    folder = args.keep or Path(tempfile.mkdtemp(prefix="cocm-bench-engines-"))
    _file, _profile, cluster = build(folder, args.patients)
    try:
        results = {}
        for engine in ("file", "server"):
            out = subprocess.run([sys.executable, __file__, "--child", engine, "--keep", str(folder),
                                  "--runs", str(args.runs)], check=True, capture_output=True, text=True)
            results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        if args.keep is None:
            cluster.stop()  # type: ignore[attr-defined]
    on_file, on_server = results["file"], results["server"]
    targets = {"registry": 400.0, "chart": 50.0, "billing": 2000.0}
    print(f"{args.patients} patients, medians of {args.runs} runs "
          f"({int(on_file['registry rows'])} registry rows, {int(on_file['billing rows'])} patient-months)")
    print(f"{'figure':<32}{'encrypted file':>16}{'clinic server':>16}{'server target':>18}")
    for key, label, unit in (("registry", "registry rows (warm facts)", "ms"), ("chart", "open one chart", "ms"),
                             ("billing", "billing month (Oct)", "ms"), ("peak MB", "peak memory (process)", "MB")):
        target = targets.get(key)
        mark = "" if target is None else (" ok" if on_server[key] <= target else " MISSED")
        t_text = f"≤ {target:.0f} {unit}{mark}" if target else "—"
        print(f"{label:<32}{on_file[key]:>13.1f} {unit}{on_server[key]:>13.1f} {unit}{t_text:>18}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
