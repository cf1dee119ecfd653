"""Inline SVG for the screens: the four faces and an icon per procedure field (never emoji: kiosk fonts vary).

Faces differ by shape (eyes and mouth), word and colour, so colour never carries the meaning alone.
"""

from __future__ import annotations

from markupsafe import Markup

from server.contracts import LevelInfo

_FACE_FILL = {"very_happy": "#3f9b57", "happy": "#9ccc4a", "neutral": "#f0b323", "sad": "#e0554f"}
_FACE_FEATURES = {
    # closed, laughing eyes and a wide open mouth
    "very_happy": '<path d="M34 50q8-10 16 0M70 50q8-10 16 0" fill="none" stroke-width="6" stroke-linecap="round"/>'
    '<path d="M32 68h56q-4 26-28 26T32 68z" fill="#1b1f24" stroke-linejoin="round"/>',
    # open eyes and a smile
    "happy": '<circle cx="42" cy="48" r="6" fill="#1b1f24"/><circle cx="78" cy="48" r="6" fill="#1b1f24"/>'
    '<path d="M38 74q22 20 44 0" fill="none" stroke-width="6" stroke-linecap="round"/>',
    # open eyes and a straight mouth
    "neutral": '<circle cx="42" cy="48" r="6" fill="#1b1f24"/><circle cx="78" cy="48" r="6" fill="#1b1f24"/>'
    '<path d="M40 80h40" fill="none" stroke-width="6" stroke-linecap="round"/>',
    # worried brows and a frown
    "sad": '<path d="M32 38l16 6M88 38l-16 6" fill="none" stroke-width="5" stroke-linecap="round"/>'
    '<circle cx="42" cy="52" r="6" fill="#1b1f24"/><circle cx="78" cy="52" r="6" fill="#1b1f24"/>'
    '<path d="M38 90q22-22 44 0" fill="none" stroke-width="6" stroke-linecap="round"/>',
}


def face_kind(level: LevelInfo, levels: list[LevelInfo]) -> str:
    """Which face a level gets: the best satisfied level laughs, other satisfied ones smile; among the others
    the lowest frowns and the rest look neutral."""
    satisfied = sorted((lv.level for lv in levels if lv.satisfied), reverse=True)
    unsatisfied = sorted(lv.level for lv in levels if not lv.satisfied)
    if level.satisfied:
        return "very_happy" if satisfied and level.level == satisfied[0] and len(satisfied) > 1 else "happy"
    return "sad" if unsatisfied and level.level == unsatisfied[0] else "neutral"


def face_svg(kind: str) -> Markup:
    """A face as inline SVG (decorative: the button carries the word)."""
    return Markup(
        '<svg class="face-svg" viewBox="0 0 120 120" aria-hidden="true" focusable="false">'
        f'<circle cx="60" cy="60" r="54" fill="{_FACE_FILL[kind]}" stroke="#1b1f24" stroke-width="5"/>'
        f'<g stroke="#1b1f24">{_FACE_FEATURES[kind]}</g></svg>'
    )


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


CHECK_SVG = Markup(
    '<svg class="check-svg" viewBox="0 0 24 24" aria-hidden="true" focusable="false" fill="none" '
    'stroke="currentColor" stroke-width="3.5" stroke-linecap="round" stroke-linejoin="round">'
    '<path d="M5 12.5l4.5 4.5L19 7.5"/></svg>'
)
