"""Inline SVG for the screens: the four faces, an icon per procedure field and a pictogram per reason (never
emoji: kiosk fonts vary).

Faces differ by shape (eyes and mouth), word and colour, so colour never carries the meaning alone; they are drawn
once, in `server.contracts`, for the kiosk and the phone page alike.
"""

from __future__ import annotations

from markupsafe import Markup

from server.contracts import LevelInfo, face_drawing, face_kinds


def face_kind(level: LevelInfo, levels: list[LevelInfo]) -> str:
    """Which face a level gets (the phone page's rule too: `server.contracts.face_kinds`)."""
    return face_kinds([(lv.level, lv.satisfied) for lv in levels])[level.level]


def face_svg(kind: str) -> Markup:
    """A face as inline SVG, the very drawing the phone page shows (decorative: the button carries the word)."""
    return Markup(face_drawing(kind))


_FIELD_ICONS = {
    "land": '<path d="M12 17s-5-4.6-5-8.3a5 5 0 0 1 10 0c0 3.7-5 8.3-5 8.3z"/><circle cx="12" cy="8.7" r="1.8"/>'
    '<path d="M3 21l4-3h10l4 3z"/>',
    "construction": '<path d="M3 21h18M5 21V10l7-6 7 6v11M9.5 21v-6h5v6"/>',
    "investment": '<path d="M3 21h18M4 17l5-6 4 3 7-8"/><path d="M15 6h5v5"/>',
    "business": '<path d="M4 10h16l-1.5-5h-13zM5 10v10h14V10M10 20v-5h4v5"/>',
    "labour_social": '<circle cx="9" cy="8" r="3"/><circle cx="17" cy="9" r="2.5"/>'
    '<path d="M3 20c0-3.5 2.7-6 6-6s6 2.5 6 6M15 14.5c3 0 6 2 6 5.5"/>',
    "justice": '<path d="M12 4v16M7 20h10M4 7h16M5 7l-3 6a3 3 0 0 0 6 0zM19 7l-3 6a3 3 0 0 0 6 0z"/>',
    "certification": '<path d="M6 3h9l4 4v14H6z"/><path d="M9 13l2.5 2.5L16 11"/>',
    "tax": '<ellipse cx="12" cy="6" rx="7" ry="3"/><path d="M5 6v6c0 1.7 3.1 3 7 3s7-1.3 7-3V6'
    'M5 12v6c0 1.7 3.1 3 7 3s7-1.3 7-3v-6"/>',
    "customs": '<path d="M3 7l9-4 9 4v10l-9 4-9-4zM3 7l9 4 9-4M12 11v10"/>',
    "transport": '<path d="M3 16v-4l2-5h14l2 5v4zM4 16v3h3v-3M17 16v3h3v-3"/>'
    '<circle cx="7.5" cy="12.5" r="1"/><circle cx="16.5" cy="12.5" r="1"/>',
    "agriculture_environment": '<path d="M5 19C5 10 11 5 20 5c0 9-5 15-14 15zM5 19l8-8"/>',
    "health": '<path d="M9 3h6v6h6v6h-6v6H9v-6H3V9h6z"/>',
    "education": '<path d="M3 5h6a3 3 0 0 1 3 3v12a2 2 0 0 0-2-2H3zM21 5h-6a3 3 0 0 0-3 3v12a2 2 0 0 1 2-2h7z"/>',
    "other": '<circle cx="5" cy="12" r="1.6"/><circle cx="12" cy="12" r="1.6"/><circle cx="19" cy="12" r="1.6"/>',
}


def field_icon(code: str) -> Markup:
    """The icon of a procedure field (a generic one for fields added later)."""
    body = _FIELD_ICONS.get(code, _FIELD_ICONS["other"])
    return Markup(
        '<svg class="field-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" '
        f'stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round">{body}</svg>'
    )


_REASON_ICONS = {
    # a clock with a calendar page: the result came after the promised date
    "late": '<rect x="3" y="4" width="13" height="12" rx="1.5"/><path d="M3 8h13M7 2.5v3M12 2.5v3"/>'
    '<circle cx="17" cy="17" r="5" fill="#fff"/><path d="M17 14.5V17l1.8 1.2"/>',
    # a stack of papers with a plus: asked for more documents again
    "extra_documents": '<path d="M8 6h9l3 3v12H8z"/><path d="M5 3h9M5 3v15"/><path d="M14 12v6M11 15h6"/>',
    # a frowning officer's face with a raised hand: poor attitude, harassment
    "attitude": '<circle cx="10" cy="9" r="6"/><path d="M7.5 12.5q2.5-2 5 0"/><circle cx="8" cy="8" r=".6"/>'
    '<circle cx="12" cy="8" r=".6"/><path d="M4 21c0-3 2.7-5 6-5s6 2 6 5"/>'
    '<path d="M18 9V5M20 10V6M16 10V7M16 10q0 4 3 4t2-4V6"/>',
    # a signpost with a question mark: unclear guidance
    "guidance": '<path d="M12 21V3M5 5h11l3 3-3 3H5z"/><path d="M9.5 6.8a1.6 1.6 0 1 1 2 1.6v.6"/>'
    '<circle cx="11.5" cy="10.3" r=".3"/>',
    # an hourglass: a long wait
    "waiting": '<path d="M6 3h12M6 21h12M7 3c0 5 5 6 5 9s-5 4-5 9M17 3c0 5-5 6-5 9s5 4 5 9"/><path d="M9 19h6"/>',
    # a coin with a cross: fees not as regulated
    "fees": '<circle cx="10" cy="12" r="7"/><path d="M10 8.5v7M8 10.2c0-1 1-1.7 2-1.7s2 .7 2 1.7-1 1.3-2 1.6-2 .6-2 '
    '1.7.9 1.7 2 1.7 2-.7 2-1.7"/><path d="M17 3l5 5M22 3l-5 5"/>',
    # a waiting-room seat: inadequate facilities
    "facilities": '<path d="M6 11V6a2 2 0 0 1 2-2h8a2 2 0 0 1 2 2v5"/>'
    '<path d="M3 11a2 2 0 0 1 4 0v2h10v-2a2 2 0 0 1 4 0v5H3zM5 16v4M19 16v4"/>',
    # a speech bubble with dots: something else
    "other": '<path d="M4 5h16v11H10l-5 4v-4H4z"/><circle cx="8.5" cy="10.5" r=".9"/><circle cx="12" cy="10.5" r=".9"/>'
    '<circle cx="15.5" cy="10.5" r=".9"/>',
}


def reason_icon(code: str) -> Markup:
    """The pictogram of a reason (words beneath it); a speech bubble for reasons added later."""
    body = _REASON_ICONS.get(code, _REASON_ICONS["other"])
    return Markup(
        '<svg class="reason-icon" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" '
        f'stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round">{body}</svg>'
    )


CHECK_SVG = Markup(
    '<svg class="check-svg" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" '
    'stroke="currentColor" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M5 12.5l4.5 4.5L19 7.5"/></svg>'
)
