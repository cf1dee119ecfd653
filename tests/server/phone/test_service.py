"""Phone-rating service: the database, not a read-then-write check, keeps one rating per visit."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from server.config import Settings
from server.errors import Conflict
from server.models import Rating, RatingReason
from server.phone import service
from server.visits.service import visit_to_rate
from tests import factories
from tests.server.visits import factories as vf


def test_the_unique_visit_index_turns_a_lost_race_into_409(session: Session, settings: Settings) -> None:
    counter = factories.counter(session, factories.unit(session))
    visit = vf.visit(session, counter)
    session.flush()
    ratable = visit_to_rate(session=session, token=visit.token)  # the phone page checked the visit …
    # … then a kiosk rating for the visit lands (the race the index settles).
    kiosk = factories.rating(session, counter, channel="kiosk")
    kiosk.visit_id = visit.id
    session.flush()
    choices = service.load_choices(session=session)
    with pytest.raises(Conflict):
        service.store_phone_rating(
            session=session, settings=settings, visit=ratable, answer=service.Answer(level=4), choices=choices
        )
    # ON CONFLICT DO NOTHING, not a failed statement: the surrounding transaction stays usable.
    assert session.exec(select(Rating.channel).where(Rating.visit_id == visit.id)).all() == ["kiosk"]


def test_a_phone_rating_stores_its_reasons_and_marks_the_visit(session: Session, settings: Settings) -> None:
    counter = factories.counter(session, factories.unit(session))
    visit = vf.visit(session, counter)
    session.flush()
    choices = service.load_choices(session=session)
    answer = service.Answer(level=1, reasons=[choices.reasons[0].code, choices.reasons[2].code], comment="chậm")
    rating_id = service.store_phone_rating(
        session=session,
        settings=settings,
        visit=visit_to_rate(session=session, token=visit.token),
        answer=answer,
        choices=choices,
    )
    stored = session.get(Rating, rating_id)
    assert stored is not None
    assert (stored.channel, stored.level, stored.satisfied, stored.visit_id, stored.counter_id, stored.unit_id) == (
        "phone",
        1,
        False,
        visit.id,
        counter.id,
        counter.unit_id,
    )
    assert stored.comment == "chậm" and stored.device_id is None and not stored.misuse
    reasons = session.exec(select(RatingReason.reason_id).where(RatingReason.rating_id == rating_id)).all()
    assert sorted(reasons) == sorted([choices.reasons[0].id, choices.reasons[2].id])
    session.refresh(visit)
    assert visit.rated_at is not None
    with pytest.raises(Conflict):  # the link is used up
        visit_to_rate(session=session, token=visit.token)


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
    assert errors == [service.FieldError("reasons", "Lý do đã chọn không hợp lệ; vui lòng chọn lại.")]
    assert (answer.level, answer.reasons, answer.comment, answer.contact, answer.consent) == (
        2,
        [],
        "a\nb",
        "09 12",
        True,
    )
    assert service.parse_form_body(b"a=1", "multipart/form-data; boundary=x").unreadable
    assert service.parse_form_body(b"&".join([b"a=1"] * 101), "application/x-www-form-urlencoded").too_large


def test_commits_in_thread_commits_when_the_endpoint_returns_and_not_when_it_raises() -> None:
    from server.deps import commits_in_thread

    calls: list[str] = []

    class Recorder(Session):
        def commit(self) -> None:
            calls.append("commit")

    recorder = Recorder()

    @commits_in_thread
    def fine(*, session: Session) -> str:
        return "ok"

    @commits_in_thread
    def broken(*, session: Session) -> str:
        raise ValueError("no")

    assert fine(session=recorder) == "ok" and calls == ["commit"]
    with pytest.raises(ValueError):
        broken(session=recorder)
    assert calls == ["commit"]  # nothing committed for an endpoint that raised: get_session rolls it back
