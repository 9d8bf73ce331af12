"""`cocm-desktop audit verify|report`: check the HMAC chain; the clinic lead's audit report."""

from __future__ import annotations

import argparse
import sys
from datetime import date, datetime
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args
from cocm_desktop.reports.output import write_private

EXIT_BROKEN = 1


def _when(text: str) -> date | datetime:
    try:
        return datetime.fromisoformat(text) if "T" in text or " " in text else date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"“{text}” is not a date (YYYY-MM-DD) or time (YYYY-MM-DDTHH:MM)"
        ) from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("audit", help="verify the audit log or write the audit report")
    sub = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)

    verify = sub.add_parser(
        "verify",
        help="check every link of the signed audit log and every clinical row against it",
        description="Exit code 0: intact; 1: a record was edited, deleted or reordered, or clinical rows "
        "were changed, added or deleted without an audit record (each named by table and row id).",
    )
    add_db_args(verify)
    verify.set_defaults(func=run_verify)

    report = sub.add_parser("report", help="audit records by time, user, patient and action, as PDF or CSV")
    add_db_args(report)
    report.add_argument("--from", dest="start", type=_when, metavar="WHEN", help="from this local date/time")
    report.add_argument(
        "--to", dest="end", type=_when, metavar="WHEN", help="up to this local date (the whole day) or time"
    )
    report.add_argument("--action", help="an action (e.g. chart.open) or a family (e.g. login)")
    report.add_argument("--patient-mrn", metavar="MRN", help="only records about this patient")
    report.add_argument("--by-user", metavar="NAME", help="only what this user did")
    report.add_argument("--sort", choices=("time", "user", "action", "patient"), default="time")
    report.add_argument("--newest-first", action="store_true")
    report.add_argument("--out", type=Path, required=True, metavar="FILE.pdf|FILE.csv")
    report.set_defaults(func=run_report)


def run_verify(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Permission, require
    from cocm_desktop.services.clinic import verify_audit_log

    db = open_from_args(args)
    try:
        require(db.actor.role, Permission.VIEW_AUDIT)  # refused before the session opens
        with db.session() as s:
            result = verify_audit_log(s, db.actor)
        alarms = db.integrity_alarms  # found at sign-in: e.g. a log shorter than someone saw it
    finally:
        db.close()
    print(result.describe())
    for alarm in (*result.row_problems, *alarms):
        print(f"ALARM: {alarm}")
    return 0 if result.ok and not alarms else EXIT_BROKEN


def run_report(args: argparse.Namespace) -> int:
    from cocm_desktop.services.audit_report import audit_csv, audit_report
    from cocm_desktop.services.common import ValidationError

    suffix = args.out.suffix.lower()
    if suffix not in (".pdf", ".csv"):
        raise ValidationError("The report file must end in .pdf or .csv.")
    db = open_from_args(args)
    try:
        with db.session() as s:
            report = audit_report(
                s,
                db.actor,
                start=args.start,
                end=args.end,
                username=args.by_user,
                patient_mrn=args.patient_mrn,
                action=args.action,
                sort=args.sort,
                descending=args.newest_first,
                output=suffix[1:],
            )
            if suffix == ".pdf":
                from cocm_desktop.reports.audit_report import build_audit_pdf

                data = build_audit_pdf(report)
            else:
                data = audit_csv(report)
            write_private(args.out, data)
    finally:
        db.close()
    print(f"{len(report.rows)} audit records written to {args.out}", file=sys.stderr)
    if not report.chain_ok:
        print(report.chain_message, file=sys.stderr)
        return EXIT_BROKEN
    return 0
