"""The floor: the registry question in hand-written SQL on an UNENCRYPTED copy, stdlib sqlite3.

Runs in its own process (never load the standard library's SQLite beside SQLCipher in one
process). Prints one JSON line: {"rows": N, "times": [seconds, ...]}.

    python floor_registry.py PLAIN_DB_PATH MONTH_START(YYYY-MM-DD) TODAY RUNS
"""

from __future__ import annotations

import json
import sqlite3
import sys
import time

# Same columns the registry shows: identity, team, status, weeks, baseline/last primary score,
# last GAD-7, last successful contact, next action, last case review, minutes this month.
REGISTRY_SQL = """
WITH primary_m AS (
  SELECT m.episode_id, m.total, m.taken_at,
         row_number() OVER (PARTITION BY m.episode_id ORDER BY m.taken_at)      AS first_n,
         row_number() OVER (PARTITION BY m.episode_id ORDER BY m.taken_at DESC) AS last_n
  FROM measure m JOIN episode e ON e.id = m.episode_id
  WHERE e.status != 'closed' AND m.instrument = e.primary_scale AND m.taken_at >= e.enrolled_on
),
gad AS (
  SELECT m.episode_id, m.total, m.taken_at,
         row_number() OVER (PARTITION BY m.episode_id ORDER BY m.taken_at DESC) AS last_n
  FROM measure m WHERE m.instrument = 'GAD-7'
),
last_contact AS (
  SELECT episode_id, max(contact_at) AS at FROM contact WHERE reached = 1 GROUP BY episode_id
),
last_review AS (
  SELECT a.episode_id, max(s.session_on) AS on_ FROM agenda_item a
  JOIN case_review_session s ON s.id = a.session_id WHERE a.removed = 0 AND s.held = 1
  GROUP BY a.episode_id
),
month_min AS (
  SELECT episode_id, sum(minutes) AS minutes FROM time_entry
  WHERE local_date >= :month_start AND deleted_at IS NULL GROUP BY episode_id
)
SELECT e.id, p.family_name || ', ' || p.given_name, p.mrn, cm.display_name, doc.display_name,
       e.program, e.status, (julianday(:today) - julianday(e.enrolled_on)) / 7 AS weeks,
       b.total, l.total, l.taken_at, g.total, lc.at, e.next_action, e.next_action_on,
       lr.on_, coalesce(mm.minutes, 0)
FROM episode e
JOIN patient p ON p.id = e.patient_id
JOIN user cm ON cm.id = e.care_manager_id
JOIN user doc ON doc.id = e.treating_clinician_id
LEFT JOIN primary_m b ON b.episode_id = e.id AND b.first_n = 1
LEFT JOIN primary_m l ON l.episode_id = e.id AND l.last_n = 1
LEFT JOIN gad g ON g.episode_id = e.id AND g.last_n = 1
LEFT JOIN last_contact lc ON lc.episode_id = e.id
LEFT JOIN last_review lr ON lr.episode_id = e.id
LEFT JOIN month_min mm ON mm.episode_id = e.id
WHERE e.status != 'closed'
"""


def main() -> None:
    path, month_start, today, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    conn = sqlite3.connect(path)
    times, rows = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        rows = len(conn.execute(REGISTRY_SQL, {"month_start": month_start, "today": today}).fetchall())
        times.append(time.perf_counter() - t)
    conn.close()
    print(json.dumps({"rows": rows, "times": times}))


if __name__ == "__main__":
    main()
