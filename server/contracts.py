"""Wire schemas shared by the central server and the kiosk (pydantic and the standard library only).

The kiosk imports this module and nothing else from `server`, so it stays deployable on its own. Names and
shapes follow `docs/API.md`; fields may be added, never renamed or removed.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
)

#: Statuses of one rating in an ingest answer.
RESULT_STATUSES = ("created", "duplicate", "conflict", "invalid")
#: Statuses after which the kiosk may drop a rating from its outbox.
ACKNOWLEDGED = frozenset({"created", "duplicate"})
#: How far a (clock-corrected) `rated_at` may lie in the past and in the future.
MAX_PAST_DAYS = 400
MAX_FUTURE_SECONDS = 300
#: Longest comment accepted (the kiosk never sends one; other clients might).
MAX_COMMENT = 1000
MAX_REASONS = 20
#: Largest count a kiosk may report (a 32-bit database integer).
MAX_COUNT = 2**31 - 1


def _text_time(value: Any) -> Any:
    """Times travel as ISO 8601 text with an offset; numbers (epoch seconds) and booleans are refused."""
    if isinstance(value, str | datetime):
        return value
    raise ValueError("must be an ISO 8601 time with an offset, e.g. 2026-10-05T09:12:00+07:00")


def _text_uuid(value: Any) -> Any:
    if isinstance(value, str | uuid.UUID):
        return value
    raise ValueError("must be a UUID in text form")


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _without_controls(value: str) -> str:
    """Free text without NUL and other invisible control characters (tab and newlines kept)."""
    return _CONTROL.sub("", value)


IsoTime = Annotated[AwareDatetime, BeforeValidator(_text_time)]
RatingId = Annotated[uuid.UUID, BeforeValidator(_text_uuid)]
#: The pattern of codes and short labels: no control characters at all (a terminal would obey them when the CLI
#: shows them, pages and files carry them; issue 19, finding 7). `PRINTABLE` allows the empty string.
PRINTABLE = r"^[^\x00-\x1f\x7f-\x9f]*$"
PRINTABLE_NONEMPTY = r"^[^\x00-\x1f\x7f-\x9f]+$"
#: What a value that breaks either pattern is told (server/errors.py `describe_validation_errors`).
NOT_PRINTABLE = "must not contain control characters (such as ESC, BEL, tab or a line break)"
#: Codes and tokens: printable text (no control characters, which PostgreSQL could not even look up).
Code = Annotated[StrictStr, Field(min_length=1, max_length=64, pattern=PRINTABLE_NONEMPTY)]
#: Short machine-written text (a version): printable, no control characters at all (a terminal would obey them
#: when `hailong kiosk-list` shows it; issue 19, finding 7).
Label = Annotated[StrictStr, Field(max_length=64, pattern=PRINTABLE)]


class RatingIn(BaseModel):
    """One rating as a kiosk sends it; unit and counter come from the device, never from here."""

    model_config = ConfigDict(extra="ignore")

    id: RatingId = Field(description="client-generated UUID: the idempotency key")
    level: StrictInt = Field(ge=1, le=100, description="a level of the rating scale (default 1..4)")
    field: Code = Field(description="procedure field code, e.g. `land` (taken from the visit when one is given)")
    visit_token: Code | None = Field(
        None, description="token of the visit this rating answers, if the counter started one"
    )
    reasons: list[Code] = Field(default_factory=list, max_length=MAX_REASONS, description="reason codes")
    comment: Annotated[StrictStr, Field(max_length=MAX_COMMENT), AfterValidator(_without_controls)] | None = None
    rated_at: IsoTime = Field(description="when the citizen pressed the face, by the device's clock")


class RatingsBatch(BaseModel):
    """`POST /api/v1/ratings` body: up to `max_batch` ratings and the device's clock when it sent them."""

    model_config = ConfigDict(extra="ignore")

    ratings: list[RatingIn]
    sent_at: IsoTime | None = Field(None, description="the device's clock when it sent this batch")


class RawRatingsBatch(BaseModel):
    """The envelope alone, items unchecked: used to judge each item on its own when some are invalid."""

    model_config = ConfigDict(extra="ignore")

    ratings: list[Any]
    sent_at: IsoTime | None = None


class RatingResult(BaseModel):
    """The fate of one rating: created, duplicate, conflict or invalid (with a detail)."""

    id: str | None = Field(description="the id as sent (null when the item had no usable id)")
    status: Literal["created", "duplicate", "conflict", "invalid"]
    detail: str | None = None


class RatingsResult(BaseModel):
    """`POST /api/v1/ratings` answer: one result per rating, in the order sent."""

    results: list[RatingResult]


class PairRequest(BaseModel):
    """`POST /api/v1/kiosks/pair` body."""

    code: Code


class HeartbeatRequest(BaseModel):
    """`POST /api/v1/kiosks/heartbeat` body: what the kiosk still holds."""

    model_config = ConfigDict(extra="ignore")

    backlog: StrictInt = Field(ge=0, le=MAX_COUNT, description="ratings waiting in the outbox")
    dead_letters: StrictInt = Field(
        0, ge=0, le=MAX_COUNT, description="ratings the server refused (conflict or invalid)"
    )
    app_version: Label
    sent_at: IsoTime | None = None


class NamedCode(BaseModel):
    """A code with its display name."""

    code: str
    name: str


class ChoiceInfo(BaseModel):
    """A procedure field or a reason, in both languages."""

    code: str
    name_vi: str
    name_en: str


class LevelInfo(BaseModel):
    """A level of the rating scale."""

    level: int
    name_vi: str
    name_en: str
    satisfied: StrictBool


class KioskConfig(BaseModel):
    """What a kiosk shows: its counter and unit, the active fields and reasons, the scale; and the server clock."""

    counter: NamedCode
    unit: NamedCode
    fields: list[ChoiceInfo]
    reasons: list[ChoiceInfo]
    levels: list[LevelInfo]
    server_time: AwareDatetime
    counter_fields: list[str] | None = Field(
        None,
        description="codes of the fields this counter serves, most rated here first (absent: every field; "
        "one: the kiosk never asks for the field)",
    )


class PairResponse(BaseModel):
    """The device token (shown once), where the kiosk now stands and what it shows there."""

    token: str
    counter: str
    unit: str
    counter_name: str = ""
    unit_name: str = ""
    config: KioskConfig | None = Field(
        None,
        description="what the kiosk shows, as every heartbeat answers it (absent from older servers: the kiosk "
        "then waits for its first heartbeat)",
    )


class VisitInfo(BaseModel):
    """A visit the counter console just started: the kiosk preselects its field."""

    token: str
    field: str
    created_at: AwareDatetime
    expires_at: AwareDatetime


class CurrentVisit(BaseModel):
    """`GET /api/v1/kiosks/current-visit` answer."""

    visit: VisitInfo | None


#: What a kiosk reports about a visit it was given: it shows the faces, or the citizen declined there.
VISIT_EVENTS = ("shown", "declined")
#: Where a visit stands: `open` can still be rated at the kiosk; every other state is final for the kiosk.
VISIT_STATES = ("open", "rated", "declined", "cancelled", "expired", "unknown")


class VisitEvent(BaseModel):
    """`POST /api/v1/kiosks/visit-status` body: what happened on the kiosk to a visit it was offered."""

    model_config = ConfigDict(extra="ignore")

    token: Code
    event: Literal["shown", "declined"]


class VisitState(BaseModel):
    """`POST /api/v1/kiosks/visit-status` answer: whether the visit can still be rated on this kiosk."""

    token: str
    state: Literal["open", "rated", "declined", "cancelled", "expired", "unknown"]


#: The faces of the rating scale, most positive first: one drawing set for the kiosk and the phone page (120×120
#: units). Shape (eyes and mouth) differs between faces, so colour never carries the meaning alone; the least
#: satisfied face is sad (a frown and drooping eyes), not angry.
FACE_KINDS = ("very_happy", "happy", "neutral", "unhappy")
FACE_FILLS = {"very_happy": "#3f9b57", "happy": "#9ccc4a", "neutral": "#f0b323", "unhappy": "#e0554f"}
_INK = "#1b1f24"
_DOTS = f'<circle cx="42" cy="48" r="6" fill="{_INK}"/><circle cx="78" cy="48" r="6" fill="{_INK}"/>'
_LINE = f'fill="none" stroke="{_INK}" stroke-width="6" stroke-linecap="round"'
FACE_FEATURES = {
    # closed, laughing eyes and a wide open mouth
    "very_happy": f'<path d="M34 50q8-10 16 0M70 50q8-10 16 0" {_LINE}/>'
    f'<path d="M32 68h56q-4 26-28 26T32 68z" fill="{_INK}" stroke="{_INK}" stroke-width="6" stroke-linejoin="round"/>',
    # open eyes and a smile
    "happy": f'{_DOTS}<path d="M38 74q22 20 44 0" {_LINE}/>',
    # open eyes and a straight mouth
    "neutral": f'{_DOTS}<path d="M40 80h40" {_LINE}/>',
    # eyes looking down and a frown: sad, without the brows that made it read as angry
    "unhappy": f'<circle cx="42" cy="54" r="6" fill="{_INK}"/><circle cx="78" cy="54" r="6" fill="{_INK}"/>'
    f'<path d="M40 90q20-16 40 0" {_LINE}/>',
}


def face_kinds(levels: list[tuple[int, bool]]) -> dict[int, str]:
    """Which face each `(level, satisfied)` of a scale gets: the best satisfied level laughs (when there are
    several), other satisfied ones smile; among the others the lowest is sad and the rest look neutral."""
    satisfied = sorted((lv for lv, ok in levels if ok), reverse=True)
    unsatisfied = sorted(lv for lv, ok in levels if not ok)
    kinds: dict[int, str] = {}
    for lv, ok in levels:
        if ok:
            kinds[lv] = "very_happy" if len(satisfied) > 1 and lv == satisfied[0] else "happy"
        else:
            kinds[lv] = "unhappy" if lv == unsatisfied[0] else "neutral"
    return kinds


def face_drawing(kind: str, *, css_class: str = "face-svg") -> str:
    """A face as a decorative inline SVG (the button or label around it carries the word)."""
    return (
        f'<svg class="{css_class}" viewBox="0 0 120 120" aria-hidden="true" focusable="false">'
        f'<circle class="face-bg" cx="60" cy="60" r="54" fill="{FACE_FILLS[kind]}" stroke="{_INK}" stroke-width="5"/>'
        f"{FACE_FEATURES[kind]}</svg>"
    )
