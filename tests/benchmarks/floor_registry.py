"""The floor: the registry question in hand-written SQL on an UNENCRYPTED copy, stdlib sqlite3.

Runs in its own process (never load the standard library's SQLite beside SQLCipher in one
process). Prints one JSON line: {"rows": N, "times": [seconds, ...], "cached_times": [seconds, ...]} —
the question answered from the raw tables, then read from the app's registry_facts cache.

    python floor_registry.py PLAIN_DB_PATH MONTH_START(YYYY-MM-DD) TODAY RUNS

The same question as services.registry.collect, fact for fact, so the ratio is honest: every
column the registry shows and every fact its flags are computed from, for the open episodes
enrolled by today:
- identity and team (patient, MRN, care manager, clinician), program, status, enrolled, next
  action, pending transfer;
- per scale (PHQ-9, GAD-7), from enrollment on: first, previous and last score with dates; the
  newest PHQ-9's item 9; the start of the current run of primary-scale remission scores;
- contacts: newest successful one, failed outreach since, the largest registry lag (entered vs
  contact day) in the look-back window with its contact, the oldest unanswered question;
- recommendations awaiting approval / approved not told / still open, last case review,
  oldest unconfirmed referral, open risk event, consent on file, care plan on file;
- minutes this month under the whole-entry rules (counting role, not billed elsewhere, clinician
  only as care-manager work, on or after the consent) and the last earlier month with counted
  time in the 6-month window (initial vs subsequent).
What the floor leaves to the application, as any hand-written SQL would: flag rules, overlap of
timed entries, the code/threshold arithmetic. It uses the app's schema and indexes as they are
(a DBA adding indexes here would be adding them to the app too).
Policy numbers are the defaults: baseline window 14 days, remission below 5, look-back 30 days.
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

REGISTRY_SQL = """
WITH ep AS (
  SELECT e.* FROM episode e WHERE e.status != 'closed' AND e.enrolled_on <= :today
),
m AS (
  SELECT m.episode_id, m.instrument, m.taken_at, m.total, m.item9,
         m.instrument = ep.primary_scale AS is_primary,
         row_number() OVER (PARTITION BY m.episode_id, m.instrument
                            ORDER BY m.taken_at DESC, m.id DESC) AS rd,
         min(m.taken_at) OVER (PARTITION BY m.episode_id, m.instrument) AS first_at,
         max(CASE WHEN m.total >= :remission THEN m.taken_at END)
             OVER (PARTITION BY m.episode_id, m.instrument) AS last_bad
  FROM measure m JOIN ep ON ep.id = m.episode_id
  WHERE m.taken_at >= ep.enrolled_on
),
mf AS (
  SELECT episode_id,
    max(CASE WHEN instrument = 'PHQ-9' AND rd = 1 THEN total END) AS phq_last,
    max(CASE WHEN instrument = 'PHQ-9' AND rd = 1 THEN taken_at END) AS phq_last_at,
    max(CASE WHEN instrument = 'PHQ-9' AND rd = 2 THEN total END) AS phq_prev,
    max(CASE WHEN instrument = 'PHQ-9' AND rd = 2 THEN taken_at END) AS phq_prev_at,
    max(CASE WHEN instrument = 'PHQ-9' AND taken_at = first_at THEN total END) AS phq_first,
    max(CASE WHEN instrument = 'PHQ-9' AND taken_at = first_at THEN taken_at END) AS phq_first_at,
    max(CASE WHEN instrument = 'GAD-7' AND rd = 1 THEN total END) AS gad_last,
    max(CASE WHEN instrument = 'GAD-7' AND rd = 1 THEN taken_at END) AS gad_last_at,
    max(CASE WHEN instrument = 'GAD-7' AND rd = 2 THEN total END) AS gad_prev,
    max(CASE WHEN instrument = 'GAD-7' AND rd = 2 THEN taken_at END) AS gad_prev_at,
    max(CASE WHEN instrument = 'GAD-7' AND taken_at = first_at THEN total END) AS gad_first,
    max(CASE WHEN instrument = 'GAD-7' AND taken_at = first_at THEN taken_at END) AS gad_first_at,
    max(CASE WHEN instrument = 'PHQ-9' AND rd = 1 THEN item9 END) AS item9,
    min(CASE WHEN is_primary AND total < :remission AND (last_bad IS NULL OR taken_at > last_bad)
             THEN taken_at END) AS remission_since
  FROM m GROUP BY episode_id
),
c AS (
  SELECT c.episode_id, c.contact_at, c.kind, c.reached,
         c.contact_at >= :lookback AS recent,
         CAST(julianday(date(c.entered_at)) - julianday(date(c.contact_at)) AS INTEGER) AS lag,
         c.question_for_consultant IS NOT NULL AND c.question_answered = 0 AS open_q,
         max(CASE WHEN c.reached THEN c.contact_at END) OVER (PARTITION BY c.episode_id) AS last_ok
  FROM contact c JOIN ep ON ep.id = c.episode_id
),
cf AS (
  SELECT episode_id, max(last_ok) AS last_ok,
         count(CASE WHEN kind = 'outreach' AND NOT reached
                     AND (last_ok IS NULL OR contact_at > last_ok) THEN 1 END) AS failed,
         max(CASE WHEN recent THEN lag END) AS max_lag,
         min(CASE WHEN open_q THEN contact_at END) AS open_q_since
  FROM c GROUP BY episode_id
),
lag_at AS (  -- the newest recent contact with the largest lag
  SELECT c.episode_id, max(c.contact_at) AS at FROM c JOIN cf ON cf.episode_id = c.episode_id
  WHERE c.recent AND c.lag = cf.max_lag GROUP BY c.episode_id
),
rf AS (
  SELECT r.episode_id,
         min(CASE WHEN r.state = 'recommended' THEN r.recommended_at END) AS awaiting,
         min(CASE WHEN r.state IN ('approved', 'modified') THEN r.decided_at END) AS not_told,
         count(CASE WHEN r.state != 'closed' THEN 1 END) AS open_loops
  FROM recommendation r JOIN ep ON ep.id = r.episode_id GROUP BY r.episode_id
),
rv AS (
  SELECT a.episode_id, max(s.session_on) AS on_ FROM agenda_item a
  JOIN case_review_session s ON s.id = a.session_id
  WHERE a.reviewed = 1 AND a.removed = 0 AND s.session_on <= :today GROUP BY a.episode_id
),
ref AS (
  SELECT episode_id, min(referred_on) AS since FROM referral
  WHERE status IN ('sent', 'scheduled') GROUP BY episode_id
),
risk AS (
  SELECT episode_id, min(opened_at) AS since FROM risk_event WHERE outcome IS NULL GROUP BY episode_id
),
consent_on AS (
  SELECT episode_id, min(consent_on) AS on_ FROM consent WHERE patient_agrees = 1 GROUP BY episode_id
),
counted AS (  -- time entries that count under the whole-entry rules (overlap left to the app)
  SELECT t.episode_id, t.local_date, t.minutes FROM time_entry t
  JOIN user u ON u.id = t.staff_id
  WHERE t.deleted_at IS NULL AND t.local_date >= :window_start AND t.local_date <= :month_end
    AND (t.billed_elsewhere IS NULL OR t.billed_elsewhere = '')
    AND (u.role = 'care_manager' OR (u.role = 'clinician' AND t.counts_as_care_management = 1))
),
mins AS (
  SELECT k.episode_id,
         sum(CASE WHEN k.local_date >= :month_start THEN k.minutes ELSE 0 END) AS minutes,
         max(CASE WHEN k.local_date < :month_start THEN k.local_date END) AS last_service_day
  FROM counted k JOIN consent_on co ON co.episode_id = k.episode_id
  WHERE k.local_date >= co.on_ GROUP BY k.episode_id
)
SELECT ep.id, p.family_name || ', ' || p.given_name, p.mrn, cm.display_name, cl.display_name,
       ep.program, ep.status, ep.enrolled_on, ep.primary_scale, ep.next_action, ep.next_action_on,
       CASE WHEN ep.transfer_confirmed_on IS NULL THEN ep.transfer_to END,
       mf.phq_last, mf.phq_last_at, mf.phq_prev, mf.phq_prev_at, mf.phq_first, mf.phq_first_at,
       mf.gad_last, mf.gad_last_at, mf.gad_prev, mf.gad_prev_at, mf.gad_first, mf.gad_first_at,
       mf.item9, mf.remission_since,
       cf.last_ok, cf.failed, cf.max_lag, lag_at.at, cf.open_q_since,
       rf.awaiting, rf.not_told, coalesce(rf.open_loops, 0), rv.on_, ref.since, risk.since,
       co.on_ IS NOT NULL,
       EXISTS (SELECT 1 FROM care_plan_version v WHERE v.episode_id = ep.id),
       coalesce(mins.minutes, 0), mins.last_service_day
FROM ep
JOIN patient p ON p.id = ep.patient_id
JOIN user cm ON cm.id = ep.care_manager_id
JOIN user cl ON cl.id = ep.treating_clinician_id
LEFT JOIN mf ON mf.episode_id = ep.id
LEFT JOIN cf ON cf.episode_id = ep.id
LEFT JOIN lag_at ON lag_at.episode_id = ep.id
LEFT JOIN rf ON rf.episode_id = ep.id
LEFT JOIN rv ON rv.episode_id = ep.id
LEFT JOIN ref ON ref.episode_id = ep.id
LEFT JOIN risk ON risk.episode_id = ep.id
LEFT JOIN consent_on co ON co.episode_id = ep.id
LEFT JOIN mins ON mins.episode_id = ep.id
ORDER BY p.family_name, p.given_name, ep.id
"""


# The same rows read the way the app reads them since the registry_facts cache: episode, patient
# and staff columns joined to the stored facts (warm: the app's registry ran on the file first).
# What it leaves to the application: decoding, the date windows, the flag rules, the row objects.
CACHED_SQL = """
SELECT ep.id, ep.patient_id, p.family_name, p.given_name, p.mrn, ep.care_manager_id, cm.display_name,
       ep.treating_clinician_id, cl.display_name, ep.program, ep.status, ep.enrolled_on, ep.primary_scale,
       ep.next_action, ep.next_action_on, ep.transfer_to, ep.transfer_confirmed_on, f.*
FROM episode ep
JOIN patient p ON p.id = ep.patient_id
JOIN user cm ON cm.id = ep.care_manager_id
JOIN user cl ON cl.id = ep.treating_clinician_id
LEFT JOIN registry_facts f ON f.episode_id = ep.id
WHERE ep.status != 'closed' AND ep.enrolled_on <= :today
ORDER BY p.family_name, p.given_name, ep.id
"""


def params(month_start: str, today: str) -> dict[str, object]:
    from datetime import date, timedelta

    first = date.fromisoformat(month_start)
    nxt = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    index = first.year * 12 + first.month - 1 - 6
    window = date(index // 12, index % 12 + 1, 1)
    t = date.fromisoformat(today)
    return {
        "today": today,
        "remission": 5,
        "lookback": (t - timedelta(days=30)).isoformat() + " 00:00:00.000000",
        "month_start": month_start,
        "month_end": (nxt - timedelta(days=1)).isoformat(),
        "window_start": window.isoformat(),
    }


def main() -> None:
    path, month_start, today, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    conn = sqlite3.connect(path)
    p = params(month_start, today)
    times, rows = [], []
    for _ in range(runs):
        t = time.perf_counter()
        rows = conn.execute(REGISTRY_SQL, p).fetchall()
        times.append(time.perf_counter() - t)
    cached_times, cached_rows = [], []
    for _ in range(runs):
        t = time.perf_counter()
        cached_rows = conn.execute(CACHED_SQL, {"today": today}).fetchall()
        cached_times.append(time.perf_counter() - t)
    conn.close()
    assert len(cached_rows) == len(rows), "both floors answer for the same episodes"
    out: dict[str, object] = {"rows": len(rows), "times": times, "cached_times": cached_times}
    if "--dump" in sys.argv:
        out["data"] = rows
    print(json.dumps(out))


if __name__ == "__main__":
    main()
