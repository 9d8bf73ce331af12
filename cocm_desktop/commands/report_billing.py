"""`cocm-desktop report billing --db PATH --user NAME --month YYYY-MM --out FILE.pdf [--csv FILE.csv]`

The month-end billing packet for the billing office. Only the clinic lead may run it; the run is
audited (services.billing_month). Files are written only after the whole packet was built.
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Permission
    from cocm_desktop.reports.billing_packet import render_csv, render_pdf
    from cocm_desktop.reports.output import write_private
    from cocm_desktop.services.billing_month import billing_month
    from cocm_desktop.services.common import ValidationError, check

    for target in (args.out, args.csv):
        if target is not None and not target.parent.is_dir():
            raise ValidationError(f"Output: the folder {target.parent} does not exist.")
    db = open_from_args(args)
    with db:
        assert db.actor is not None
        check(db.actor, Permission.RUN_BILLING_REPORT)  # refuse before any work
        with db.session() as s:
            packet = billing_month(s, db.actor, args.month)
        pdf = render_pdf(packet)
        csv_text = render_csv(packet) if args.csv is not None else None
    write_private(args.out, pdf)
    if csv_text is not None:
        write_private(args.csv, csv_text.encode("utf-8-sig"))
    totals = ", ".join(f"{c} ×{u}" for c, u in packet.totals) or "no billable codes"
    print(
        f"Billing packet {packet.month}: {len(packet.rows)} patient-months, {totals}, "
        f"{len(packet.blocked)} blocked -> {args.out}",
        file=sys.stdout,
    )
    return 0
