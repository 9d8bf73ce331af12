"""`cocm-desktop report billing --db PATH --user NAME --month YYYY-MM --out FILE.pdf [--csv FILE.csv]
[--mark-submitted] [--acknowledge MRN ...]`

The month-end billing packet for the billing office. Only the clinic lead may run it; the run is
audited (services.billing_month). Files are written only after the whole packet was built.
`--mark-submitted` records that this packet went to the billing office (a snapshot of codes and
minutes per patient-month); for a submitted month the packet and the output list the adjustments
found since, until `--acknowledge MRN` (audited) clears them (services.billing_submissions).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "billing",
        help="month-end billing packet (PDF, optional CSV); clinic lead only",
        description="Month-end CoCM billing packet: codes per patient-month grouped by billing "
        "practitioner, totals, patients below threshold, and the month's time log.",
    )
    add_db_args(p)
    p.add_argument("--month", required=True, help="the month, YYYY-MM (e.g. 2026-11)")
    p.add_argument("--out", required=True, type=Path, help="where to write the PDF")
    p.add_argument("--csv", type=Path, help="also write the rows as CSV for the billing system")
    p.add_argument("--mark-submitted", action="store_true",
                   help="record that this month's packet went to the billing office")
    p.add_argument("--acknowledge", metavar="MRN", action="append", default=[],
                   help="acknowledge the adjustment of this patient's month (repeat for several)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Permission
    from cocm_desktop.reports.billing_packet import render_csv, render_pdf
    from cocm_desktop.reports.output import write_private
    from cocm_desktop.services.billing_month import billing_month
    from cocm_desktop.services.billing_submissions import (
        acknowledge_adjustment,
        billing_adjustments,
        mark_month_submitted,
        submission_for,
    )
    from cocm_desktop.services.clinic import patient_id_by_mrn
    from cocm_desktop.services.common import ValidationError, check

    for target in (args.out, args.csv):
        if target is not None and not target.parent.is_dir():
            raise ValidationError(f"Output: the folder {target.parent} does not exist.")
    db = open_from_args(args)
    with db:
        assert db.actor is not None
        check(db.actor, Permission.RUN_BILLING_REPORT)  # refuse before any work
        acknowledged = []
        if args.acknowledge:  # one unit of work: all of them, or none when one is refused
            with db.session() as s:
                for pid in [patient_id_by_mrn(s, mrn, what="Acknowledge") for mrn in args.acknowledge]:
                    acknowledged.append(acknowledge_adjustment(s, db.actor, args.month, pid))
        with db.session() as s:
            packet = billing_month(s, db.actor, args.month)
            submitted = submission_for(s, db.actor, packet.month)
            if args.mark_submitted and submitted is not None:
                raise ValidationError(f"{packet.month} was already marked submitted on "
                                      f"{submitted.submitted_at:%Y-%m-%d} by {submitted.submitted_by}.")
            adjustments = billing_adjustments(s, db.actor, month=packet.month) if submitted else []
        pdf = render_pdf(packet, submitted=submitted, adjustments=adjustments)
        csv_text = render_csv(packet) if args.csv is not None else None
        write_private(args.out, pdf)
        if csv_text is not None:
            write_private(args.csv, csv_text.encode("utf-8-sig"))
        sub = None
        if args.mark_submitted:  # once the packet that goes out is written
            with db.session() as s:
                sub = mark_month_submitted(s, db.actor, packet.month)
    totals = ", ".join(f"{c} ×{u}" for c, u in packet.totals) or "no billable codes"
    print(
        f"Billing packet {packet.month}: {len(packet.rows)} patient-months, {totals}, "
        f"{len(packet.blocked)} blocked -> {args.out}",
        file=sys.stdout,
    )
    for a in acknowledged:
        print(f"Acknowledged: {a.patient_name} ({a.mrn}) {a.month}: codes {a.codes_text}, {a.minutes_text}")
    if submitted is not None:
        n = len(adjustments)
        print(f"Submitted on {submitted.submitted_at:%Y-%m-%d} by {submitted.submitted_by}; "
              f"{n} adjustment{'s' if n != 1 else ''} not yet acknowledged" + (":" if n else "."))
        for a in adjustments:
            why = f" ({a.changes[-1]})" if a.changes else ""
            print(f"  {a.patient_name} ({a.mrn}) {a.month}: codes {a.codes_text}, {a.minutes_text}{why}")
    if sub is not None:
        print(f"Marked {sub.month} submitted: {sub.patient_months} patient-months kept as submitted.")
    return 0

