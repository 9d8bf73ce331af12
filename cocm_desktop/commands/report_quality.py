"""`cocm-desktop report quality --db PATH --user NAME --month YYYY-MM --out FILE.pdf`

The monthly quality report (clinic lead only): the spec's quality figures for the month, each with
the five months before it. Refused before any work for other roles; the run is audited.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cocm_desktop.commands._auth import add_db_args, open_from_args


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "quality",
        help="monthly quality report (PDF); clinic lead only",
        description="Monthly quality check: engagement, measurement, case-review coverage, response and "
        "remission, days to first follow-up, registry completeness, caseload and closures, each with "
        "the last six months.",
    )
    add_db_args(p)
    p.add_argument("--month", required=True, help="the month, YYYY-MM (e.g. 2026-11)")
    p.add_argument("--out", required=True, type=Path, help="where to write the PDF")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from cocm_desktop.domain.roles import Permission
    from cocm_desktop.reports.output import write_private
    from cocm_desktop.reports.quality_report import build_quality_report
    from cocm_desktop.services.common import ValidationError, check
    from cocm_desktop.services.quality_report import parse_month, quality_report_data

    month = parse_month(args.month)
    if not args.out.parent.is_dir():
        raise ValidationError(f"Output: the folder {args.out.parent} does not exist.")
    with open_from_args(args) as db:
        assert db.actor is not None
        check(db.actor, Permission.RUN_QUALITY_REPORT)  # refuse before any work
        with db.session() as s:
            trend = quality_report_data(s, db.actor, month)
    write_private(args.out, build_quality_report(trend))
    print(f"Quality report for {month:%Y-%m} written to {args.out}")
    return 0
