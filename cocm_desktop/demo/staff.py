"""The demo clinic's staff: the six demo logins (one per role, all with the demo password) and, for
big clinics, extra care managers and clinicians without a login."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

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


def make_staff(s: Any, patients: int) -> Staff:
    """The six demo logins, plus unnamed extra staff for big clinics (rows only, no login)."""
    ids: dict[str, int] = {}
    for username, name, role, creds in DEMO_LOGINS:
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, display_name=name, role=role, credentials=creds)
            s.add(user)
            s.flush()
        ids[username] = user.id
    cms, docs = [ids["cm1"], ids["cm2"]], [ids["doc1"], ids["doc2"]]
    extra_cm = max(0, math.ceil(patients / 90) - 2)
    extra_doc = max(0, math.ceil(patients / 350) - 2)
    for i in range(extra_cm):
        u = User(username=f"cm{i + 3}", display_name=f"Care Manager {i + 3}", role="care_manager",
                 credentials="LCSW", active=True)
        s.add(u)
        s.flush()
        cms.append(u.id)
    for i in range(extra_doc):
        u = User(username=f"doc{i + 3}", display_name=f"Dr. Clinician {i + 3}", role="clinician",
                 credentials="MD", active=True)
        s.add(u)
        s.flush()
        docs.append(u.id)
    return Staff(ids["lead"], ids["psych"], cms, docs)
