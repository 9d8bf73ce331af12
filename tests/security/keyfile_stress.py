"""Many programs at once on one clinic's key file, some killed mid-way: nobody may lose access.

One trial starts several forked workers at the same moment, each doing one thing through the same
services the GUI and the commands use — add a user, remove one (a re-key), reset a password,
change one's own, sign in, sign in with a wrong password — and SIGKILLs some of them at random
moments. Afterwards it checks, from the outside, what a clinic relies on:

* everyone who should get in gets in: the lead, the recovery code, every user whose change
  finished (with the new password), every user whose change was cut short (with the old or the
  new password: either is a complete state);
* nobody else does: removed users, by password and — the point of the re-key — with the key
  their old slot held, which must no longer open the file;
* the database opens, its audit chain is intact.

Used by tests/security/test_keyfile_concurrency.py (a minute of it) and by
tests/benchmarks/soak_keyfile.py (the long run).
"""

from __future__ import annotations

import multiprocessing
import os
import random
import secrets
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cocm_desktop.services.users import (
    add_staff_user,
    change_own_password,
    deactivate_user,
    reset_password,
)
from cocm_desktop.store import audit
from cocm_desktop.store.database import Database
from cocm_desktop.store.errors import StoreError, TooManyAttempts, WrongCredentials
from cocm_desktop.store.keyslots import KeyFile, keyfile_path
from cocm_desktop.store.open_checks import opens_with

LEAD, LEAD_PW = "lead", "stress-lead-password-1"


def new_password() -> str:
    return "pw-" + secrets.token_hex(8)


@dataclass
class Clinic:
    """What the harness believes: each user's acceptable passwords (more than one after a change
    that was cut short), the removed users with every password they ever had."""

    path: Path
    recovery_code: str
    users: dict[str, set[str]] = field(default_factory=dict)
    removed: dict[str, set[str]] = field(default_factory=dict)
    counter: int = 0

    def fresh_name(self) -> str:
        self.counter += 1
        return f"u{self.counter}"


def make_clinic(folder: Path, users: int = 4) -> Clinic:
    db, code = Database.create(folder / "clinic.db", clinic_name="Stress clinic", lead_username=LEAD,
                               lead_display_name="Lead", lead_password=LEAD_PW)
    clinic = Clinic(db.path, code)
    with db:
        for _ in range(users):
            name, pw = clinic.fresh_name(), new_password()
            add_staff_user(db, db.actor, username=name, display_name=name.upper(), role="care_manager", password=pw)
            clinic.users[name] = {pw}
    return clinic


# ---- what a worker does (in a forked child) -------------------------------------------------------
def _op_add(path: Path, name: str, pw: str) -> None:
    with Database.open(path, LEAD, LEAD_PW) as db:
        add_staff_user(db, db.actor, username=name, display_name=name.upper(), role="care_manager", password=pw)


def _op_remove(path: Path, name: str) -> None:
    with Database.open(path, LEAD, LEAD_PW) as db:
        deactivate_user(db, db.actor, name, reason="stress test")


def _op_reset(path: Path, name: str, pw: str) -> None:
    with Database.open(path, LEAD, LEAD_PW) as db:
        reset_password(db, db.actor, name, new_password=pw)


def _op_passwd(path: Path, name: str, old: str, new: str) -> None:
    with Database.open(path, name, old) as db:
        change_own_password(db, db.actor, current_password=old, new_password=new)


def _op_signin(path: Path, name: str, pw: str) -> None:
    Database.open(path, name, pw).close()


def _op_wrong(path: Path, name: str) -> None:
    try:
        Database.open(path, name, "not-the-password-" + secrets.token_hex(4)).close()
    except (WrongCredentials, TooManyAttempts):
        return
    raise AssertionError("a wrong password opened the clinic")


def _child(op: Callable[..., None], args: tuple[object, ...], start_at: float) -> None:
    delay = start_at - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    try:
        op(*args)
    except StoreError:
        os._exit(3)  # refused with a plain message (e.g. re-keyed meanwhile): nothing changed
    except BaseException:
        os._exit(1)
    os._exit(0)


@dataclass
class Planned:
    kind: str
    op: Callable[..., None]
    args: tuple[object, ...]
    user: str | None = None
    new_pw: str | None = None


def plan_trial(clinic: Clinic, rng: random.Random, workers: int) -> list[Planned]:
    """Distinct target users per trial, so each outcome is judged on its own."""
    planned: list[Planned] = []
    wronged: set[str] = set()
    free = [u for u in clinic.users]
    rng.shuffle(free)
    kinds = ["add", "remove", "reset", "passwd", "signin", "wrong", "wrong"]
    for _ in range(workers):
        kind = rng.choice(kinds)
        if kind == "add":
            name, pw = clinic.fresh_name(), new_password()
            planned.append(Planned(kind, _op_add, (clinic.path, name, pw), name, pw))
        elif kind == "wrong":
            # At most one wrong password per real user per trial: the check signs each in after.
            target = rng.choice([u for u in clinic.users if u not in wronged] + ["ghost"])
            wronged.add(target)
            planned.append(Planned(kind, _op_wrong, (clinic.path, target)))
        elif not free or (kind == "remove" and len(clinic.users) <= 2):
            planned.append(Planned("wrong", _op_wrong, (clinic.path, "ghost")))
        else:
            name = free.pop()
            current = sorted(clinic.users[name])[0] if len(clinic.users[name]) == 1 else None
            if kind == "remove":
                planned.append(Planned(kind, _op_remove, (clinic.path, name), name))
            elif kind == "reset":
                pw = new_password()
                planned.append(Planned(kind, _op_reset, (clinic.path, name, pw), name, pw))
            elif kind == "passwd" and current is not None:
                pw = new_password()
                planned.append(Planned(kind, _op_passwd, (clinic.path, name, current, pw), name, pw))
            elif current is not None:
                planned.append(Planned("signin", _op_signin, (clinic.path, name, current), name))
            else:
                planned.append(Planned("wrong", _op_wrong, (clinic.path, "ghost")))
    return planned


@dataclass
class TrialResult:
    outcomes: dict[str, int] = field(default_factory=dict)  # kind/exit -> count
    killed: int = 0
    problems: list[str] = field(default_factory=list)


def run_trial(clinic: Clinic, rng: random.Random, *, workers: int = 6, kill_share: float = 0.3) -> TrialResult:
    ctx = multiprocessing.get_context("fork")
    planned = plan_trial(clinic, rng, workers)
    before = KeyFile.load(keyfile_path(clinic.path), clinic.path.name)
    start_at = time.monotonic() + 0.05
    procs = []
    for p in planned:
        proc = ctx.Process(target=_child, args=(p.op, p.args, start_at))
        proc.start()
        procs.append(proc)
    result = TrialResult()
    for proc in procs:
        if rng.random() < kill_share:
            time.sleep(rng.uniform(0.0, 0.6))
            if proc.is_alive():
                os.kill(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.join(120)
        if proc.is_alive():
            os.kill(proc.pid, signal.SIGKILL)
            proc.join()
            result.problems.append("a worker hung for two minutes")
    for p, proc in zip(planned, procs, strict=True):
        code = proc.exitcode
        killed = code == -signal.SIGKILL
        result.killed += killed
        key = f"{p.kind}:{'killed' if killed else code}"
        result.outcomes[key] = result.outcomes.get(key, 0) + 1
        if code not in (0, 3, -signal.SIGKILL):
            result.problems.append(f"{p.kind} failed with exit {code} (not a plain refusal)")
        _update_belief(clinic, p, done=code == 0, uncertain=killed)
    touched = {p.user for p in planned if p.user} | {str(p.args[1]) for p in planned if p.kind == "wrong"}
    result.problems.extend(check_access(clinic, before, touched, rng))
    return result


def _update_belief(clinic: Clinic, p: Planned, *, done: bool, uncertain: bool) -> None:
    if p.user is None:
        return
    if p.kind == "add":
        if done or uncertain:
            clinic.users[p.user] = {p.new_pw or ""}
            if uncertain:
                clinic.users[p.user].add("<absent>")
    elif p.kind == "remove":
        if done:
            clinic.removed[p.user] = clinic.users.pop(p.user)
        elif uncertain:
            clinic.users[p.user].add("<removed>")
    elif p.kind in ("reset", "passwd") and p.new_pw:
        if done:
            clinic.users[p.user] = {p.new_pw}
        elif uncertain:
            clinic.users[p.user].add(p.new_pw)


def _signs_in(path: Path, name: str, pw: str, *, refused_ok: bool = False) -> bool:
    try:
        Database.open(path, name, pw).close()
        return True
    except WrongCredentials:
        return False
    except TooManyAttempts:
        if refused_ok:  # a removed user's earlier checks count as failures: kept out either way
            return False
        raise


def check_access(
    clinic: Clinic, before: KeyFile, touched: set[str] | None = None, rng: random.Random | None = None
) -> list[str]:
    """Judge the clinic from outside, then settle each uncertain belief to what is true now.

    Users in `touched` (or all, when None) and two more at random sign in with their password."""
    problems: list[str] = []
    untouched = sorted(set(clinic.users) - (touched if touched is not None else set(clinic.users)))
    touched_ok = set(untouched)
    spot_checks = set((rng or random.Random()).sample(untouched, min(2, len(untouched))))
    path = clinic.path
    try:
        with Database.open(path, LEAD, LEAD_PW) as db, db.session() as s:
            s.info["audit_key"] = db._audit_key
            if not audit.verify_chain(s).ok:
                problems.append("the audit chain is broken")
            key = db.raw_key_for_backup()
    except StoreError as exc:
        return [f"the lead cannot sign in: {exc}"]
    try:
        Database.open_with_recovery(path, clinic.recovery_code, reason="stress check").close()
    except StoreError as exc:
        problems.append(f"the recovery code no longer opens the clinic: {exc}")
    after = KeyFile.load(keyfile_path(path), path.name)
    for name, accepted in list(clinic.users.items()):
        if len(accepted) == 1 and name in touched_ok and name not in spot_checks:
            # Untouched this trial: its slot must still be there, authentic under the current key
            # and sealed for the current epoch (a full sign-in costs an Argon2 run; a few users a
            # trial get one, chosen at random, so every slot is signed in with now and then).
            slot = after.slots.get(name)
            if slot is None or not after.slot_is_authentic(name, key) or slot.epoch != after.key_epoch:
                problems.append(f"{name} lost their key slot")
            continue
        real = sorted(pw for pw in accepted if not pw.startswith("<"))
        working = [pw for pw in real if _signs_in(path, name, pw)]
        if len(working) > 1:
            problems.append(f"{name}: old and new password both open the clinic")
        if working:
            clinic.users[name] = {working[0]}
        elif "<absent>" in accepted or "<removed>" in accepted:
            gone = clinic.users.pop(name)
            if "<removed>" in accepted:
                clinic.removed[name] = gone
        else:
            problems.append(f"{name} lost access (none of their passwords opens the clinic)")
    for name, passwords in clinic.removed.items():
        if name not in before.slots:  # removed in an earlier trial, checked then
            continue
        for pw in passwords:
            if pw.startswith("<"):
                continue
            if _signs_in(path, name, pw, refused_ok=True):
                problems.append(f"{name} was removed but still signs in")
            if name in before.slots:  # the key their old slot held must be useless now
                try:
                    old_keys = before.unlock(name, pw)
                except StoreError:
                    continue
                if any(opens_with(path, k) for k in old_keys):
                    problems.append(f"{name}'s old key still opens the re-keyed clinic")
    if not opens_with(path, key):
        problems.append("the lead's key stopped opening the file")
    return problems
