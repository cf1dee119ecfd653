"""Phone-rating service: the database, not a read-then-write check, keeps one rating per visit."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from server.config import Settings
from server.errors import Conflict
from server.models import Rating
from server.phone import service
from tests import factories
from tests.server.visits import factories as vf


def test_the_unique_visit_index_turns_a_lost_race_into_409(session: Session, settings: Settings) -> None:
    counter = factories.counter(session, factories.unit(session))
    visit = vf.visit(session, counter)
    # A kiosk rating for the visit lands after the phone page checked the visit (the race the index settles).
    kiosk = factories.rating(session, counter, channel="kiosk")
    kiosk.visit_id = visit.id
    session.flush()
    with pytest.raises(Conflict):
        service.store_phone_rating(session=session, settings=settings, visit=visit, answer=service.Answer(level=4))
    # The savepoint kept the surrounding transaction usable.
    assert session.exec(select(Rating.channel).where(Rating.visit_id == visit.id)).all() == ["kiosk"]


def test_face_shapes_follow_the_scale_most_positive_first(session: Session) -> None:
    levels = service.level_choices(session=session)
    assert [(lv.level, lv.shape, lv.satisfied) for lv in levels] == [
        (4, "very_happy", True),
        (3, "happy", True),
        (2, "neutral", False),
        (1, "unhappy", False),
    ]


def test_reading_an_answer() -> None:
    form = service.parse_form_body(
        b"level=2&reasons=late&reasons=&comment=a%0D%0Ab&contact=+09+12+&consent=1",
        "application/x-www-form-urlencoded; charset=UTF-8",
    )
    levels = [
        service.LevelChoice(level=n, name_vi="", name_en="", satisfied=n > 2, shape="happy") for n in (1, 2, 3, 4)
    ]
    answer, errors = service.read_answer(form, levels=levels, reasons=[])
    assert errors == ["Lý do đã chọn không hợp lệ; vui lòng chọn lại."]
    assert (answer.level, answer.reasons, answer.comment, answer.contact, answer.consent) == (
        2,
        [],
        "a\nb",
        "09 12",
        True,
    )
    assert service.parse_form_body(b"a=1", "multipart/form-data; boundary=x").unreadable
    assert service.parse_form_body(b"&".join([b"a=1"] * 101), "application/x-www-form-urlencoded").too_large
