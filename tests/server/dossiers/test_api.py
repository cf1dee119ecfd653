"""`POST /api/v1/dossiers`: per-item results, scoping to the key's subtree, limits, derived and trigger-kept flags."""

from __future__ import annotations

import json
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.auth.service import create_api_key
from server.models import Dossier, Petition, Rating, Unit
from tests import factories
from tests.server.dossiers.helpers import at, completed, dossier, post_dossiers, rate_on_phone, visit


@pytest.fixture
def tree(session: Session) -> dict[str, Unit]:
    return factories.tree(session, "DLK", "BMT", "BMT-1", "KRP")


@pytest.fixture
def key(session: Session, tree: dict[str, Unit]) -> str:
    return create_api_key(session=session, kind="visits", unit=tree["a"])[1]


def stored(session: Session, code: str) -> Dossier:
    session.expire_all()
    return session.exec(select(Dossier).where(Dossier.code == code)).one()


def test_created_updated_unchanged_and_invalid_in_order(client: TestClient, session: Session, key: str) -> None:
    first = post_dossiers(client, key, [dossier("D1", "BMT"), dossier("D2", "BMT-1", status="processing")])
    assert first.status_code == 200, first.text
    assert first.json() == {
        "results": [
            {"code": "D1", "status": "created", "detail": None},
            {"code": "D2", "status": "created", "detail": None},
        ]
    }
    again = post_dossiers(
        client,
        key,
        [
            dossier("D1", "BMT"),
            completed("D2", "BMT-1"),
            dossier("D3", "BMT", completed_at=at("2026-09-30")),
            {"code": "D4"},
            dossier("D5", "KRP"),
            dossier("D6", "BMT", field="no-such-field"),
            dossier("D7", "NOPE"),
            dossier("D8", "BMT", status="completed"),
            dossier("D9", "BMT", due_at=at("2026-09-01")),
            dossier("D10", "BMT", received_at="2026-10-01T09:00:00"),
            dossier("D11\x00", "BMT"),
        ],
    )
    results = again.json()["results"]
    assert [(r["code"], r["status"]) for r in results] == [
        ("D1", "unchanged"),
        ("D2", "updated"),
        ("D3", "invalid"),
        ("D4", "invalid"),
        ("D5", "invalid"),
        ("D6", "invalid"),
        ("D7", "invalid"),
        ("D8", "invalid"),
        ("D9", "invalid"),
        ("D10", "invalid"),
        (None, "invalid"),
    ]
    details = [r["detail"] for r in results[2:]]
    assert "completed_at is before received_at" in details[0]
    assert "unit" in details[1] and "received_at" in details[1]
    assert details[2] == "unit 'KRP' is outside the key's subtree"
    assert details[3] == "unknown field 'no-such-field'"
    assert details[4] == "unknown unit 'NOPE'"
    assert details[5] == "status 'completed' needs completed_at"
    assert details[6] == "due_at is before received_at"
    assert "timezone" in details[7]
    assert details[8] == "text may not contain NUL (U+0000) characters"
    d2 = stored(session, "D2")
    assert (d2.status, d2.completed_on, d2.overdue) == ("completed", date(2026, 10, 10), False)
    assert session.exec(select(Dossier).where(Dossier.code.in_(["D3", "D5", "D7"]))).all() == []  # type: ignore[attr-defined]


def test_a_dossier_moves_on_and_its_month_and_lateness_follow(client: TestClient, session: Session, key: str) -> None:
    post_dossiers(client, key, [dossier("M1", "BMT")])
    assert stored(session, "M1").completed_on is None
    # Completed at 23:30 local time on 31 October (16:30 UTC): October's, and after its due date.
    late = post_dossiers(client, key, [dossier("M1", "BMT", completed_at="2026-10-31T16:30:00+00:00")])
    assert late.json()["results"][0]["status"] == "updated"
    m1 = stored(session, "M1")
    assert (m1.status, m1.completed_on, m1.overdue) == ("completed", date(2026, 10, 31), True)
    returned = post_dossiers(client, key, [dossier("M1", "BMT", completed_at=at("2026-10-12"), status="returned")])
    assert returned.json()["results"][0]["status"] == "updated"
    m1 = stored(session, "M1")
    assert (m1.status, m1.completed_on, m1.overdue) == ("returned", date(2026, 10, 12), False)
    post_dossiers(client, key, [dossier("M1", "BMT", status="cancelled")])
    assert stored(session, "M1").completed_on is None


def test_the_same_code_twice_in_a_batch_keeps_the_last(client: TestClient, session: Session, key: str) -> None:
    answer = post_dossiers(client, key, [dossier("T1", "BMT"), completed("T1", "BMT-1"), completed("T1", "BMT-1")])
    assert [r["status"] for r in answer.json()["results"]] == ["created", "updated", "unchanged"]
    t1 = stored(session, "T1")
    assert (t1.unit_id, t1.status) == (session.exec(select(Unit).where(Unit.code == "BMT-1")).one().id, "completed")


def test_a_key_cannot_touch_another_subtrees_dossier(
    client: TestClient, session: Session, key: str, tree: dict[str, Unit]
) -> None:
    other = create_api_key(session=session, kind="visits", unit=tree["b"])[1]
    assert post_dossiers(client, other, [dossier("X1", "KRP")]).json()["results"][0]["status"] == "created"
    # BMT's key names its own unit, but the dossier is KRP's: refused, and left as it was.
    answer = post_dossiers(client, key, [completed("X1", "BMT")])
    assert answer.json()["results"][0] == {
        "code": "X1",
        "status": "invalid",
        "detail": "the dossier belongs to a unit outside the key's subtree",
    }
    assert stored(session, "X1").unit_id == tree["b"].id


def test_credentials_envelope_and_limits(client: TestClient, session: Session, key: str, tree: dict[str, Unit]) -> None:
    assert client.post("/api/v1/dossiers", json={"dossiers": []}).status_code == 401
    read = create_api_key(session=session, kind="read", unit=tree["a"])[1]
    assert post_dossiers(client, read, [dossier("K1", "BMT")]).status_code == 401
    assert post_dossiers(client, "nonsense", [dossier("K1", "BMT")]).status_code == 401
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    for bad in (b"not json", b'{"dossiers": 3}', b"{}", b"[]"):
        response = client.post("/api/v1/dossiers", content=bad, headers=headers)
        assert response.status_code == 422, bad
        assert "detail" in response.json()
    too_many = post_dossiers(client, key, [dossier(f"N{i}", "BMT") for i in range(1001)])
    assert too_many.status_code == 413 and "1000" in too_many.json()["detail"]
    huge = json.dumps({"dossiers": [dossier("H", "BMT", procedure_code="x" * 64)] * 5000}).encode()
    assert len(huge) > 1024 * 1024
    assert client.post("/api/v1/dossiers", content=huge, headers=headers).status_code == 413


def test_a_full_batch_of_1000_dossiers_is_accepted(client: TestClient, session: Session, key: str) -> None:
    items = [
        completed(f"000.00.00.H12-261010-{i:04d}", "BMT-1", procedure_code="1.004227", late=i % 10 == 0)
        for i in range(1000)
    ]
    body = json.dumps({"dossiers": items}).encode()
    assert 200_000 < len(body) < 1024 * 1024  # a few hundred KB, over the ordinary 64 KB cap
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = client.post("/api/v1/dossiers", content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert {r["status"] for r in response.json()["results"]} == {"created"}
    rows = session.exec(select(Dossier).where(Dossier.code.startswith("000.00.00.H12-261010-"))).all()  # type: ignore[attr-defined]
    assert len(rows) == 1000 and sum(r.overdue for r in rows) == 100


def test_ratings_and_petitions_mark_their_dossiers_whichever_comes_first(
    client: TestClient, session: Session, key: str, tree: dict[str, Unit]
) -> None:
    counter = factories.counter(session, tree["a1"], code="BMT-Q1")
    # A rating before its dossier arrives, and one after.
    rate_on_phone(client, visit(client, key, counter.code, "R-EARLY"), level=1)
    post_dossiers(client, key, [completed("R-EARLY", "BMT-1"), completed("R-LATE", "BMT-1"), completed("R-OK", "BMT")])
    rate_on_phone(client, visit(client, key, counter.code, "R-LATE"), level=2)
    rate_on_phone(client, visit(client, key, counter.code, "R-OK"), level=4)  # satisfied: no mark
    assert [stored(session, c).rated_not_satisfied for c in ("R-EARLY", "R-LATE", "R-OK")] == [True, True, False]
    # A rating later flagged as misuse no longer counts.
    late_rating = session.exec(select(Rating).where(Rating.level == 2, Rating.counter_id == counter.id)).one()
    late_rating.misuse = True
    session.add(late_rating)
    session.flush()
    assert stored(session, "R-LATE").rated_not_satisfied is False
    # A petition naming a dossier, before and after it arrives; a petition's code corrected later moves the mark.
    petition = Petition(
        unit_id=tree["a"].id,  # type: ignore[arg-type]
        category="tthc",
        dossier_code="P-EARLY",
        received_at=at("2026-10-02"),
        due_at=at("2026-10-22", 17),
        source="form",
        token="tok-p-early",
        content="Hồ sơ chậm",
    )
    session.add(petition)
    session.flush()
    post_dossiers(client, key, [completed("P-EARLY", "BMT"), completed("P-OTHER", "BMT")])
    assert [stored(session, c).petitioned for c in ("P-EARLY", "P-OTHER")] == [True, False]
    petition.dossier_code = "P-OTHER"
    session.add(petition)
    session.flush()
    assert [stored(session, c).petitioned for c in ("P-EARLY", "P-OTHER")] == [False, True]
