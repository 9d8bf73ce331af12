"""`cocm-desktop report case-review --db PATH --user NAME [--date YYYY-MM-DD] [--care-manager NAME] --out FILE.pdf`

The printed case-review packet of one session (one care manager's caseload). `--date` picks the
session held/scheduled on that date; without it, the next session on or after today, else the
latest one. `--care-manager` (username or name) picks that care manager's session; without it, the
user's own session when they have one that day, else the first care manager by name (the line
printed says whose it is and how many others that day has). Any role may print it (the team's
working paper); the run is audited. The file is written only once the whole packet is built.
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "case-review",
        help="case-review packet for the psychiatric consultant (PDF)",
        description="Case-review packet: cover with agenda counts and caseload, then one section per "
        "agenda patient (scores and trend, safety, medications, contacts, referrals, earlier "
        "recommendations, the care manager's question) with a block for the handwritten recommendation.",
    )
    add_db_args(p)
    p.add_argument("--date", type=_date, default=None,
                   help="session date YYYY-MM-DD (default: next session on/after today, else the latest)")
    p.add_argument("--care-manager", metavar="NAME", default=None,
                   help="the care manager whose session to print (username or name; default: your own, "
                        "else the first by name)")
    p.add_argument("--out", required=True, type=Path, help="where to write the PDF")
    p.set_defaults(func=run)


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Permission
    from cocm_desktop.reports.case_review_packet import build_case_review_packet
    from cocm_desktop.reports.output import write_private
    from cocm_desktop.services.case_review_packet import packet_data, sessions_on
    from cocm_desktop.services.common import ValidationError, check
    from cocm_desktop.services.registry import resolve_staff

    if not args.out.parent.is_dir():
        raise ValidationError(f"Output: the folder {args.out.parent} does not exist.")
    with open_from_args(args) as db:
        assert db.actor is not None
        check(db.actor, Permission.READ_CHART)
        with db.session() as s:
            cm_id = None
            if args.care_manager is not None:
                cm = resolve_staff(s, args.care_manager)
                if cm.role != "care_manager":
                    raise ValidationError(f"{args.care_manager!r} is not a care manager.")
                cm_id = cm.id
            packet = packet_data(s, db.actor, on_date=args.date, care_manager_id=cm_id)
            others = sessions_on(s, packet.session_on) - 1
    pdf = build_case_review_packet(packet)
    write_private(args.out, pdf)
    whose = f" ({packet.care_manager}'s caseload)" if packet.care_manager else ""
    print(f"Case-review packet for {packet.session_on.isoformat()}{whose}: {len(packet.patients)} patients, "
          f"{len(packet.not_reached)} not reached, written to {args.out}")
    if others > 0 and cm_id is None:
        print(f"{others} other session{'s' if others > 1 else ''} that day; choose one with --care-manager NAME.")
    return 0
