"""Time-log activities (billing.md) and contact vocabulary, with labels for screens and packets."""

from __future__ import annotations

ACTIVITIES: dict[str, str] = {
    "assessment": "Assessment",
    "follow_up_contact": "Follow-up contact",
    "outreach": "Outreach",
    "care_coordination": "Care coordination",
    "registry_upkeep": "Registry upkeep",
    "case_review": "Case-review preparation/discussion",
    "care_plan": "Care-plan work",
    "relapse_prevention": "Relapse-prevention planning",
    "other": "Other",
}

CONTACT_MODES: dict[str, str] = {
    "phone": "Phone",
    "video": "Video",
    "portal": "Patient portal",
    "in_person": "In person",
}

CONTACT_KINDS: dict[str, str] = {
    "assessment": "Assessment",
    "follow_up": "Follow-up",
    "outreach": "Outreach attempt",
    "relapse_prevention": "Relapse prevention",
    "close_out": "Close-out",
}

# The time entry a contact's minutes become.
ACTIVITY_FOR_CONTACT_KIND: dict[str, str] = {
    "assessment": "assessment",
    "follow_up": "follow_up_contact",
    "outreach": "outreach",
    "relapse_prevention": "relapse_prevention",
    "close_out": "follow_up_contact",
}

REFERRAL_STATUSES: dict[str, str] = {
    "sent": "Sent",
    "scheduled": "Scheduled",
    "seen": "Seen",
    "declined": "Declined",
}
