"""One set of face drawings: the phone page shows the kiosk's very faces, and the least satisfied one is sad."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from kiosk.icons import face_kind, face_svg
from server.contracts import FACE_FEATURES, LevelInfo
from server.models import ScaleLevel
from tests import factories
from tests.server.visits import factories as vf


def _scale(session: Session) -> list[LevelInfo]:
    """The store's scale (migration 0002), most positive first, as a kiosk receives it."""
    rows = session.exec(select(ScaleLevel).order_by(col(ScaleLevel.level).desc())).all()
    return [LevelInfo(level=s.level, name_vi=s.name_vi, name_en=s.name_en, satisfied=s.satisfied) for s in rows]


def test_the_phone_page_draws_the_kiosks_faces(client: TestClient, session: Session) -> None:
    counter = factories.counter(session, factories.unit(session))
    visit = vf.visit(session, counter, field_code="land")
    html = client.get(f"/r/{visit.token}").text
    phone = re.findall(r'<svg class="face-svg".*?</svg>', html)
    levels = _scale(session)
    kiosk = [str(face_svg(face_kind(lv, levels))) for lv in levels]  # most positive first too
    assert phone == kiosk
    assert len(set(kiosk)) == 4


def test_the_dissatisfied_face_is_sad_not_angry(session: Session) -> None:
    """Brows slanting over the eyes read as anger: the lowest face has eyes and a frown, nothing above the eyes."""
    levels = _scale(session)
    kinds = [face_kind(lv, levels) for lv in levels]
    assert kinds == ["very_happy", "happy", "neutral", "unhappy"]
    sad = FACE_FEATURES["unhappy"]
    eyes = [(float(x), float(y), float(r)) for x, y, r in re.findall(r'<circle cx="(\d+)" cy="(\d+)" r="(\d+)"', sad)]
    assert len(eyes) == 2
    top_of_eyes = min(y - r for _, y, r in eyes)
    assert sad.count("<path") == 1, "one mouth and no brows"
    paths = re.findall(r'<path d="M(\d+) (\d+)q(-?\d+) ?(-?\d+)', sad)
    assert len(paths) == 1, sad
    _, start_y, _, control_dy = paths[0]
    assert float(start_y) > top_of_eyes  # the mouth is below the eyes: nothing drawn above them
    assert float(control_dy) < 0  # the curve bends upwards in the middle: a frown
