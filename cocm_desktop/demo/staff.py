"""The demo clinic's staff: the six demo logins (one per role, all with the demo password) and, for
big clinics (a network), extra care managers, clinicians and psychiatric consultants without a login.

A network is staffed as collaborative care is: about one care manager per 75 open episodes (about
two patients in three have an open episode), one consultant per dozen care managers (an hour a
week each)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from cocm_desktop.domain.npi import check_digit
from cocm_desktop.store.models import User

DEMO_PASSWORD = "demo"
DEMO_LOGINS = [
    # username, display name, role, credentials
    ("lead", "Lee Adams", "clinic_lead", None),
    ("cm1", "Casey Morgan", "care_manager", "LCSW"),
    ("cm2", "Riley Chen", "care_manager", "RN"),
    ("psych", "Dr. Priya Shah", "psychiatrist", "MD"),
    ("doc1", "Dr. Daniel Okafor", "clinician", "MD"),
    ("doc2", "Dr. Elena Varga", "clinician", "DO"),
]


@dataclass
class Staff:
    """User ids by job; care managers and clinicians are handed out to patients in turn."""

    lead: int
    psych: int
    care_managers: list[int]
    clinicians: list[int]
    consultants: list[int] = field(default_factory=list)  # psych first

    def consultant_for(self, care_manager: int) -> int:
        """Each consultant reviews a block of care managers (psych: cm1 and cm2's)."""
        per = math.ceil(len(self.care_managers) / max(1, len(self.consultants)))
        return self.consultants[self.care_managers.index(care_manager) // per] if self.consultants else self.psych


# The billing practitioners and the consultant carry an NPI (the packet prints the clinician's).
_WITH_NPI = frozenset({"clinician", "psychiatrist"})


def demo_npi(username: str) -> str:
    """A synthetic NPI of valid form for a demo user: nine digits from the username (stable across
    runs), then the Luhn check digit over the 80840 prefix. Demo data only."""
    first_nine = "1" + f"{int(hashlib.sha256(username.encode()).hexdigest(), 16) % 10**8:08d}"
    return first_nine + str(check_digit(first_nine))


PATIENTS_PER_CARE_MANAGER = 115  # ≈ 75 open episodes each
CARE_MANAGERS_PER_CONSULTANT = 12


def make_staff(s: Any, patients: int) -> Staff:
    """The six demo logins, plus unnamed extra staff for big clinics (rows only, no login)."""
    ids: dict[str, int] = {}
    for username, name, role, creds in DEMO_LOGINS:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, display_name=name, role=role, credentials=creds)
            s.add(user)
        if role in _WITH_NPI and not user.npi:
            user.npi = demo_npi(username)
        s.flush()
        ids[username] = user.id
    cms, docs = [ids["cm1"], ids["cm2"]], [ids["doc1"], ids["doc2"]]
    extra_cm = max(0, math.ceil(patients / PATIENTS_PER_CARE_MANAGER) - 2)
    extra_doc = max(0, math.ceil(patients / 350) - 2)
    extra_psych = max(0, math.ceil((2 + extra_cm) / CARE_MANAGERS_PER_CONSULTANT) - 1)
    cms += _extra(s, extra_cm, 3, "cm", "Care Manager", "care_manager", "LCSW")
    docs += _extra(s, extra_doc, 3, "doc", "Dr. Clinician", "clinician", "MD")
    consultants = [ids["psych"], *_extra(s, extra_psych, 2, "psych", "Dr. Consultant", "psychiatrist", "MD")]
    return Staff(ids["lead"], ids["psych"], cms, docs, consultants)


def _extra(s: Any, count: int, first: int, username: str, name: str, role: str, creds: str) -> list[int]:
    """`count` staff rows without a login, numbered from `first` (cm3, cm4, …)."""
    ids = []
    for n in range(first, first + count):
        u = User(username=f"{username}{n}", display_name=f"{name} {n}", role=role, credentials=creds, active=True,
                 npi=demo_npi(f"{username}{n}") if role in _WITH_NPI else None)
        s.add(u)
        s.flush()
        ids.append(u.id)
    return ids
