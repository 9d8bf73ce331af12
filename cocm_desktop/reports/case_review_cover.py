"""The packet's cover: session, consultant, the care manager whose caseload it reviews, the
session's length, agenda counts by group, the caseload line, the agenda at a glance (with the page
each patient starts on) and the patients not reached (carried first to the next session)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reportlab.lib import colors
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from cocm_desktop.reports.case_review_blocks import c, grid, th
from cocm_desktop.reports.case_review_document import Marker, PageRef
from cocm_desktop.reports.case_review_style import (
    ACCENT,
    BOLD,
    FONT,
    MUTED,
    PLAIN_PUNCT,
    RULE,
    WIDTH,
    P,
    d_long,
    d_short,
    t,
)

if TYPE_CHECKING:
    from cocm_desktop.services.case_review_packet_model import CaseReviewPacket, PacketPatient


def cover_pages(packet: CaseReviewPacket) -> list[Flowable]:
    year = packet.session_on.year
    story: list[Flowable] = [Marker(None)]
    story.append(P("PSYCHIATRIC CASE REVIEW \u00b7 PACKET", "cover_kicker"))
    story.append(Spacer(1, 6))
    story.append(P(t(packet.clinic), "cover_title"))
    story.append(Spacer(1, 4))
    state = "held" if packet.held else "scheduled"
    story.append(P(f"Case review of {t(d_long(packet.session_on))} <font color='#5F6368'>({state})</font>",
                   "cover_sub"))
    story.append(Spacer(1, 14))

    def kv(k: str, v: str) -> list[Paragraph]:
        return [P(t(k), "kv_k"), P(v, "kv_v")]

    agenda_note = "prepared agenda" if packet.agenda_saved else (
        "automatic agenda \u2014 not yet prepared in the app")
    facts = [
        kv("Psychiatric consultant", t(packet.consultant)),
        (kv("Care manager", t(packet.care_manager)) if packet.care_manager else
         kv("Care managers", t(", ".join(packet.care_managers)) or "\u2014")),
        kv("Session", f"{packet.minutes} minutes, {packet.minutes_per_patient} per patient: room for "
                      f"{packet.capacity} patients"),
        kv("Attendees", t(packet.attendees or "\u2014")),
        kv("Figures as of", f"{t(d_short(packet.as_of))} <font name='{FONT}' color='#5F6368'>"
                            f"(printed {packet.generated_at:%d %b %Y %H:%M} by {t(packet.generated_by)})</font>"),
        kv("Agenda", f"{sum(g.count for g in packet.group_counts)} patients <font name='{FONT}' "
                     f"color='#5F6368'>({t(agenda_note)})</font>"
                     + (f"; {len(packet.not_reached)} not reached, carried to the next session"
                        if packet.not_reached else "")),
    ]
    kv_table = Table(facts, colWidths=[120, WIDTH - 120], hAlign="LEFT")
    kv_table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                                  ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [kv_table, Spacer(1, 16)]

    # agenda counts by group: tiles
    tiles = []
    for g in packet.group_counts:
        tiles.append([P(f"{g.count}", "tile_n" if g.count else "tile_0"), P(t(g.label), "small")])
    tile_w = WIDTH / len(tiles)
    tile_rows = [[Table([[x[0]], [x[1]]], colWidths=[tile_w - 10]) for x in tiles]]
    tt = Table(tile_rows, colWidths=[tile_w] * len(tiles))
    tt.setStyle(TableStyle([
        ("BOX", (0, 0), (-1, -1), 0.6, RULE), ("INNERGRID", (0, 0), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 6),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 6), ("LEFTPADDING", (0, 0), (-1, -1), 6),
    ]))
    story += [P("AGENDA BY GROUP", "h_section"), Spacer(1, 4), tt, Spacer(1, 16)]

    # caseload per care manager
    rows = [[P(t(x), "th") for x in ("Care manager", "Open episodes", "On this agenda", "Not improving",
                                      "Safety flag", "Contact overdue", "Measure due", "At target*")]]
    tot = [0] * 8
    for r in packet.caseload:
        vals = [r.open_episodes, r.on_agenda, r.not_improving, r.safety, r.contact_overdue, r.measure_due]
        target = f"{r.responding}/{r.with_follow_up}" + (
            f" ({100 * r.responding / r.with_follow_up:.0f}%)" if r.with_follow_up else "")
        rows.append([P(t(r.care_manager), "cell_b")] + [P(str(v), "cell_r") for v in vals] + [P(target, "cell_r")])
        for i, v in enumerate(vals):
            tot[i] += v
        tot[6] += r.responding
        tot[7] += r.with_follow_up
    if len(packet.caseload) > 1:
        target = f"{tot[6]}/{tot[7]}" + (f" ({100 * tot[6] / tot[7]:.0f}%)" if tot[7] else "")
        rows.append([P("All", "cell_b")] + [P(f"<b>{v}</b>", "cell_r") for v in tot[:6]] + [P(f"<b>{target}</b>",
                                                                                            "cell_r")])
    widths = [128] + [(WIDTH - 128 - 76) / 6] * 6 + [76]
    extra = [("LINEABOVE", (0, -1), (-1, -1), 0.8, MUTED)] if len(packet.caseload) > 1 else []
    story += [KeepTogether([
        P("CASELOAD", "h_section"), Spacer(1, 4), grid(rows, widths, zebra=False, extra=extra), Spacer(1, 3),
        P("* Response (\u2265 50 % reduction from baseline) or remission on the primary scale, among open "
          "episodes with a follow-up score. Counts are of open episodes as of the date above.".translate(PLAIN_PUNCT),
          "muted"),
    ]), Spacer(1, 16)]

    # agenda at a glance
    story.append(P("AGENDA AT A GLANCE", "h_section"))
    story.append(Spacer(1, 4))
    head = th("#", "Patient", "MRN", "Age", "Wk", "Scale", "Baseline \u2192 last".translate(PLAIN_PUNCT), "Change",
              "Flags", "Page")
    widths = [16, 112, 52, 24, 22, 34, 70, 38, 126, 32]
    rows = [head]
    extra: list[tuple] = []
    for label, members in _sections(packet.patients, year):
        rows.append([P(f"{t(label)} ({len(members)})", "group")] + [""] * 9)
        r = len(rows) - 1
        extra += [("SPAN", (0, r), (-1, r)), ("BACKGROUND", (0, r), (-1, r), colors.white),
                  ("TOPPADDING", (0, r), (-1, r), 5), ("LINEBELOW", (0, r), (-1, r), 0.6, ACCENT)]
        for p in members:
            sc = p.primary
            scores = f"{_n(sc.baseline)} \u2192 {_n(sc.last)}".translate(PLAIN_PUNCT) if sc.baseline is not None else (
                f"\u2014 \u2192 {_n(sc.last)}".translate(PLAIN_PUNCT) if sc.last is not None else "\u2014")
            flags = ", ".join(label for label, _ in p.flags)
            rows.append([
                str(p.position), c(p.name), c(p.mrn), str(p.age), str(p.weeks), c(p.primary_scale),
                c(scores), c(sc.change_text), P(t(flags), "small"), PageRef(("patient", p.episode_id)),
            ])
    if len(rows) == 1:
        story.append(P("No patients on this agenda.", "muted"))
    else:
        extra += [("ALIGN", (0, 1), (0, -1), "RIGHT"), ("ALIGN", (3, 1), (4, -1), "RIGHT"),
                  ("ALIGN", (7, 1), (7, -1), "RIGHT"), ("FONTNAME", (1, 1), (1, -1), BOLD),
                  ("ALIGN", (9, 0), (9, 0), "RIGHT")]
        story.append(grid(rows, widths, zebra=False, extra=extra))
    if packet.not_reached:
        story += [Spacer(1, 16), P(f"NOT REACHED IN THIS SESSION ({len(packet.not_reached)})", "h_section"),
                  Spacer(1, 2),
                  P("No time for them in this session: they come first, after safety flags, at "
                    f"{t(packet.care_manager or 'this care team')}'s next session.", "muted"), Spacer(1, 4)]
        nr = [th("#", "Patient", "MRN", "Wk", "Why", "Not reached before")]
        for n, x in enumerate(packet.not_reached, start=len(packet.patients) + 1):
            why = x.group_label + (f" \u00b7 also {', '.join(r for r in x.reasons if r != x.group_label).lower()}"
                                   if any(r != x.group_label for r in x.reasons) else "")
            nr.append([str(n), c(x.name), c(x.mrn), "" if x.weeks is None else str(x.weeks), P(t(why), "small"),
                       c(d_short(x.carried_from, year) if x.carried_from else "\u2014")])
        story.append(grid(nr, [22, 130, 56, 24, WIDTH - 22 - 130 - 56 - 24 - 84, 84], zebra=True,
                          extra=[("ALIGN", (0, 1), (0, -1), "RIGHT"), ("ALIGN", (3, 1), (3, -1), "RIGHT")]))
    return story


def _sections(patients: tuple[PacketPatient, ...], year: int) -> list[tuple[str, list[PacketPatient]]]:
    """The agenda in its order, under headings: safety flags, carried over, then each group."""
    out: list[tuple[str, list[PacketPatient]]] = []
    for p in patients:
        if p.group == "safety":
            label = p.group_label
        elif p.carried_from is not None:
            label = f"Carried over from {d_short(p.carried_from, year)}"
        else:
            label = p.group_label
        if out and out[-1][0] == label:
            out[-1][1].append(p)
        else:
            out.append((label, [p]))
    return out


def _n(v: int | None) -> str:
    return "\u2014" if v is None else str(v)
