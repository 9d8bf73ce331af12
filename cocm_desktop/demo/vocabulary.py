"""The demo clinic's invented words: patient names, diagnoses, drugs, skills, goals, payers and
referral places. Every name is made up."""

from __future__ import annotations

_GIVEN_NAMES = (
    "Ava Ben Carla Dmitri Elena Farah Gus Hana Ivan Jada Kofi Lena Marco Nia Omar Paula Quinn Rosa "
    "Sami Tara Umar Vera Wes Xena Yusuf Zoe Abel Bria Cyrus Dalia Emil Fiona Gabe Hugo Iris Joel Kira "
    "Luis Mara Nolan Opal Pedro Rhea Silas Tess Uri Vince Wren Yara Zeke"
)
_FAMILY_NAMES = (
    "Abbott Baptiste Castillo Dubois Eriksen Fontaine Gallagher Haddad Ibarra Jansen Kowalski Lindqvist "
    "Moreau Nakamura Okonkwo Petrov Quintero Rahman Sato Thorne Ueda Valdez Whitfield Xu Yamamoto Zielinski "
    "Alvarez Brennan Chowdhury Delgado Esposito Fischer Grant Holloway Iverson Jovanovic Keller Larsen "
    "Mbeki Novak Ortega Pereira Rossi Schultz Tanaka Underwood Vasquez Walsh Young Zhang"
)
GIVEN, FAMILY = _GIVEN_NAMES.split(), _FAMILY_NAMES.split()

DIAGNOSES = {
    "PHQ-9": [
        ("F32.1", "Major depressive disorder, single episode, moderate"),
        ("F33.1", "Major depressive disorder, recurrent, moderate"),
        ("F32.2", "Major depressive disorder, single episode, severe without psychotic features"),
        ("F43.23", "Adjustment disorder with mixed anxiety and depressed mood"),
    ],
    "GAD-7": [
        ("F41.1", "Generalized anxiety disorder"),
        ("F41.9", "Anxiety disorder, unspecified"),
    ],
}
# (drug, starting dose, the dose a consultant raises it to, schedule)
DRUGS = [
    ("Sertraline", "50 mg", "100 mg", "daily"),
    ("Escitalopram", "10 mg", "20 mg", "daily"),
    ("Fluoxetine", "20 mg", "40 mg", "every morning"),
    ("Bupropion XL", "150 mg", "300 mg", "every morning"),
    ("Mirtazapine", "15 mg", "30 mg", "at night"),
]
# A second medicine some patients take: (drug, dose, schedule, why, why the clinician stops it)
EXTRA_DRUGS = [
    ("Trazodone", "50 mg", "at night", "For sleep, started by the primary care provider",
     "Sleeping well; no longer needed"),
    ("Hydroxyzine", "25 mg", "as needed, up to 3 times a day", "For acute anxiety",
     "Not used for a month; anxiety managed with breathing skills"),
    ("Melatonin", "3 mg", "at night", "Over the counter, for sleep", "Patient stopped it; no effect"),
]
SKILLS = ["Behavioral activation", "Problem solving", "Sleep hygiene", "Relaxation breathing",
          "Thought record", "Activity scheduling", "Worry time"]
GOALS = [
    "Get back to walking with my sister on weekends",
    "Sleep through the night and stop dreading Mondays",
    "Feel like myself with my kids again",
    "Go back to choir practice",
    "Stop calling in sick to work",
    "Worry less about money and make a budget",
]
PAYERS = [("Medicare", 0.55), ("Medicare Advantage", 0.15), ("Commercial PPO", 0.2), ("Medicaid", 0.1)]
REFERRAL_TARGETS = ["Riverside Counseling (CBT)", "County Behavioral Health", "Dr. M. Lin, psychiatry",
                    "Sleep clinic", "Peer support group"]
