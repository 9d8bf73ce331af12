"""Soak: thousands of trials of many programs at once on one key file, with random kills.

    .venv/bin/python tests/benchmarks/soak_keyfile.py --trials 1000 [--workers 6] [--seed S]

Each trial forks several workers (add, remove, reset, change own password, sign in, wrong
password) at the same moment and SIGKILLs some mid-way, then checks that everyone who should get
in gets in and nobody else does (tests/security/keyfile_stress.py). Prints a line per 50 trials
and a summary; exits 1 at the first trial that loses access (with its seed to replay it).
A fresh clinic is made every 100 trials so the user list stays small.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "security"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from keyfile_stress import make_clinic, run_trial  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=6)
    ap.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    outcomes: dict[str, int] = {}
    killed = 0
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        clinic = None
        for trial in range(args.trials):
            if trial % 100 == 0:
                folder = Path(tmp) / f"c{trial}"
                folder.mkdir()
                clinic = make_clinic(folder, users=5)
            assert clinic is not None
            result = run_trial(clinic, rng, workers=args.workers)
            killed += result.killed
            for k, v in result.outcomes.items():
                outcomes[k] = outcomes.get(k, 0) + v
            if result.problems:
                print(f"FAILED at trial {trial} (seed {args.seed}): {result.problems}", flush=True)
                return 1
            if (trial + 1) % 50 == 0:
                print(f"{trial + 1} trials, {killed} workers killed, 0 lost access, "
                      f"{time.monotonic() - started:.0f} s", flush=True)
    print(f"seed {args.seed}: {args.trials} trials, {args.trials * args.workers} workers, {killed} killed "
          f"mid-way, zero lost access, {time.monotonic() - started:.0f} s")
    for k in sorted(outcomes):
        print(f"  {k:<16} {outcomes[k]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
