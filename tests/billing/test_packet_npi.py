"""The billing packet names each billing practitioner's NPI, read back from the PDF: the demo's
clinicians carry synthetic NPIs of valid form (Luhn check digit over 80840), and a practitioner
without one is said to be missing, plainly, where the NPI would stand."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

import pytest
from pypdf import PdfReader

from cocm_desktop.domain import npi
from cocm_desktop.reports.billing_packet import render_pdf
from cocm_desktop.services.billing_month import billing_month
from cocm_desktop.services.common import ValidationError
from cocm_desktop.services.users import add_staff_user
from cocm_desktop.store.database import Database
from cocm_desktop.store.models import User


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(pdf)).pages).split())


def test_npi_check_digit_matches_the_cms_example() -> None:
    assert npi.check_digit("123456789") == 3 and npi.is_valid("1234567893")
    assert npi.problem("1234567890") and npi.problem("12345") == "An NPI is exactly 10 digits."


def test_the_demo_packet_prints_each_clinicians_valid_npi(demo_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    from cocm_desktop.domain.actor import Actor
    from cocm_desktop.store.models import User

    with Database.open(demo_path, "lead", "demo") as db, db.session() as s:
        lead = s.scalar(select(User).where(User.username == "lead"))
        actor = Actor(lead.id, lead.username, lead.display_name, lead.role)
        bm = billing_month(s, actor, date(2026, 10, 1), now=datetime(2026, 11, 24, 17, 0), today=date(2026, 11, 24))
        clinicians = {u.display_name: u.npi for u in s.scalars(select(User).where(User.role == "clinician"))}
    text = _text(render_pdf(bm))
    printed = dict(re.findall(r"Billing practitioner: (Dr\. [A-Za-z]+ [A-Za-z]+), \w+ · NPI (\d{10})", text))
    assert printed and printed == {name: n for name, n in clinicians.items() if name in printed}
    assert all(npi.is_valid(n) for n in printed.values())
    assert "NPI missing" not in text


def test_a_practitioner_without_an_npi_is_said_plainly(clinic, actors, build) -> None:  # type: ignore[no-untyped-def]
    pid = build.patient()
    build.episode(pid, enrolled_on=date(2026, 10, 1), consent_on=date(2026, 10, 1))
    build.raw_entry(pid, None, "cm1", date(2026, 10, 5), 40)
    with clinic.session() as s:  # a clinician added without an NPI
        s.get(User, actors["doc1"].user_id).npi = None
    with clinic.session() as s:
        bm = billing_month(s, actors["lead"], date(2026, 10, 1), now=datetime(2026, 11, 24, 17, 0),
                           today=date(2026, 11, 24))
    text = _text(render_pdf(bm))
    assert "Billing practitioner: Dr. Daniel Okafor, MD · NPI missing: the claims need this practitioner's NPI" in text
    assert re.search(r"Dr\. Daniel Okafor, MD missing 1 1 0 40", text)  # the totals table's NPI cell


def test_a_mistyped_npi_is_refused_for_a_new_user(clinic, actors) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError, match="check digit"):
        add_staff_user(clinic, actors["lead"], username="doc9", display_name="Dr. Nine", role="clinician",
                       password="correct horse battery staple 9", npi="1234567890")
