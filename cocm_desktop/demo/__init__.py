"""A synthetic clinic with realistic, deterministic history (demo database and benchmarks).

Every patient follows an archetype (responder, partial, non-responder, relapse, safety event,
disengaged, transferred, stepped down, completed, new), measured and contacted on the clinic's
cadence, with time logged so months land above and below each billing threshold, weekly case
reviews and recommendations in every loop state. Same seed + same `today` → the same clinic.

Rows are written with bulk Core inserts in one transaction: 10,000 patients with 12 months of
history take well under a minute. All names are invented.

    vocabulary    invented names, diagnoses, drugs, skills, goals, payers, referral places
    archetypes    the kinds of patient and how their scores move
    rows          the row buffer (explicit ids) and the per-staff clock scheduler
    staff         the demo logins and the staff rows
    history       each patient's enrolment and week-by-week course
    case_reviews  weekly sessions, agenda items, recommendations; the next session's agenda
    generate      create_demo_clinic (marked demo, the logins and their key slots), then
                  generate_demo: the whole clinic's history in one transaction
"""

from cocm_desktop.demo.generate import DemoSummary, create_demo_clinic, generate_demo
from cocm_desktop.demo.staff import DEMO_LOGINS, DEMO_PASSWORD

__all__ = ["DEMO_LOGINS", "DEMO_PASSWORD", "DemoSummary", "create_demo_clinic", "generate_demo"]
