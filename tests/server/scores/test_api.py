"""`GET /api/v1/scores/766`, built through the public API: dossiers, visits, phone ratings (and petitions)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from server.auth.service import create_api_key
from server.models import Petition, Unit
from tests import factories
from tests.server.dossiers.helpers import (
    at,
    completed,
    dossier,
    petition_item,
    post_dossiers,
    post_petitions,
    rate_on_phone,
    visit,
)


@pytest.fixture
def tree(session: Session) -> dict[str, Unit]:
    root = factories.unit(session, code="DLK")
    return {
        "root": root,
        "a": factories.unit(session, root, code="BMT"),
        "b": factories.unit(session, root, code="KRP"),
        "empty": factories.unit(session, root, code="LAK"),
    }


def petition(session: Session, unit: Unit, n: int, *, answered: datetime | None, **extra: Any) -> Petition:
    """A petition received on 5 October 2026, due on the 26th at 17:00 (stored directly, to set its due date)."""
    row = Petition(
        unit_id=unit.id,  # type: ignore[arg-type]
        category=extra.pop("category", "tthc"),
        received_at=extra.pop("received_at", at("2026-10-05")),
        due_at=at("2026-10-26", 17),
        answered_at=answered,
        source="import",
        token=f"tok-{unit.code}-{n}",
        content="Phản ánh",
        **extra,
    )
    session.add(row)
    session.flush()
    return row


def get_score(client: TestClient, key: str, unit: str, period: str = "2026-10") -> Any:
    return client.get(
        "/api/v1/scores/766", params={"period": period, "unit": unit}, headers={"Authorization": f"Bearer {key}"}
    )


def build_unit_a(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    """200 completed dossiers: 30 overdue, 17 rated not satisfied, 3 named by petitions; 5 petitions: 4 on time,
    3 to the citizen's satisfaction. Around them, what must not count."""
    key = create_api_key(session=session, kind="visits", unit=tree["a"])[1]
    counter = factories.counter(session, tree["a"], code="BMT-Q1")
    items = [completed(f"A-{i:03d}", "BMT", late=i < 30) for i in range(200)]
    items += [
        dossier("A-OPEN", "BMT", status="processing"),  # not completed: not counted, even when disliked
        completed("A-SEPT", "BMT", day="2026-09-30", received_at=at("2026-09-20")),  # September's
        dossier("A-CANCELLED", "BMT", status="cancelled"),
    ]
    for start in range(0, len(items), 100):
        answer = post_dossiers(client, key, items[start : start + 100])
        assert {r["status"] for r in answer.json()["results"]} == {"created"}
    for i in range(30, 47):  # 17 dissatisfied citizens (levels 1 and 2) of on-time dossiers
        rate_on_phone(client, visit(client, key, counter.code, f"A-{i:03d}"), level=1 + i % 2)
    for code in ("A-100", "A-101", "A-OPEN", "A-SEPT"):  # satisfied, or of dossiers that do not count
        rate_on_phone(client, visit(client, key, counter.code, code), level=4 if code.startswith("A-1") else 1)
    done = at("2026-10-20")
    post_petitions(
        client,
        key,
        [
            petition_item("BMT", answered=done, reaction="satisfied", dossier_code="A-047"),
            petition_item("BMT", answered=done, dossier_code="A-048", category="staff"),
            petition_item("BMT", answered=done, reaction="satisfied", dossier_code="A-049"),
            petition_item("BMT", answered=done, reaction="not_satisfied"),
            petition_item("BMT", answered=at("2026-10-27"), category="other"),  # after its due date (26th)
            petition_item("BMT", answered=at("2026-09-30"), received_at=at("2026-09-28")),  # September's
        ],
    )


def test_the_issue_example_through_the_public_api(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    build_unit_a(client, session, tree)
    read = create_api_key(session=session, kind="read", unit=tree["root"])[1]
    answer = get_score(client, read, "BMT")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    metrics = {m["code"]: m for m in body["metrics"]}
    assert (body["period"], body["unit"], body["max"]) == ("2026-10", "BMT", 18)
    dossiers = metrics["DOSSIER_RECEIVING_SATISFACTION"]
    assert (dossiers["denominator"], dossiers["numerator"], dossiers["ratio"], dossiers["score"]) == (
        200,
        150,
        0.75,
        5.0,
    )
    assert metrics["PETITION_PROCESSING_ON_TIME"] == {
        "code": "PETITION_PROCESSING_ON_TIME",
        "numerator": 4,
        "denominator": 5,
        "ratio": 0.8,
        "score": 4.8,
        "max_score": 6,
    }
    assert (
        metrics["PETITION_HANDLING_SATISFACTION"]["numerator"],
        metrics["PETITION_HANDLING_SATISFACTION"]["score"],
    ) == (3, 3.6)
    assert metrics["PETITION_CLASSIFICATION_TTHC"] == {
        "code": "PETITION_CLASSIFICATION_TTHC",
        "numerator": 3,
        "denominator": 5,
        "ratio": 0.6,
        "score": None,
        "max_score": 0,
    }
    assert metrics["PETITION_CLASSIFICATION_STAFF"]["numerator"] == 1
    assert body["total"] == 13.4
    # The province adds BMT's subtree to its own (nothing else); a unit with nothing in the period: 0 + 6 + 6.
    assert get_score(client, read, "DLK").json()["total"] == 13.4
    empty = get_score(client, read, "LAK").json()
    assert [m["score"] for m in empty["metrics"]] == [0.0, 6.0, 6.0, None, None]
    assert empty["total"] == 12.0
    # September holds A-SEPT (its rating not satisfied) and the September petition, answered on time.
    september = {m["code"]: m for m in get_score(client, read, "BMT", "2026-09").json()["metrics"]}
    assert (
        september["DOSSIER_RECEIVING_SATISFACTION"]["denominator"],
        september["DOSSIER_RECEIVING_SATISFACTION"]["numerator"],
    ) == (1, 0)
    assert september["PETITION_PROCESSING_ON_TIME"]["numerator"] == 1
    # A quarter and a year take the same path.
    assert get_score(client, read, "BMT", "2026-Q4").json()["total"] == 13.4


def test_an_unanswered_petition_is_on_time_until_its_due_date(session: Session, tree: dict[str, Unit]) -> None:
    from server.indices.periods import parse_period
    from server.scores.service import score_766

    petition(session, tree["b"], 1, answered=None)
    period = parse_period("2026-10")
    before = score_766(session=session, unit=tree["b"], period=period, tz=factories.HCM, now=at("2026-10-26", 16))
    after = score_766(session=session, unit=tree["b"], period=period, tz=factories.HCM, now=at("2026-10-27"))
    assert [m.numerator for m in before.metrics[1:3]] == [1, 1]
    assert [m.numerator for m in after.metrics[1:3]] == [0, 0]
    reopened = petition(session, tree["b"], 2, answered=at("2026-10-06"), reaction="satisfied", reopened=True)
    score = score_766(session=session, unit=tree["b"], period=period, tz=factories.HCM, now=at("2026-10-27"))
    assert (score.petitions.received, score.petitions.on_time, score.petitions.satisfied) == (2, 1, 0)
    assert reopened.reopened


def test_overdue_and_disliked_count_twice_for_one_dossier(
    client: TestClient, session: Session, tree: dict[str, Unit]
) -> None:
    key = create_api_key(session=session, kind="visits", unit=tree["b"])[1]
    counter = factories.counter(session, tree["b"], code="KRP-Q1")
    post_dossiers(client, key, [completed("B-1", "KRP", late=True), completed("B-2", "KRP"), completed("B-3", "KRP")])
    rate_on_phone(client, visit(client, key, counter.code, "B-1"), level=1)
    read = create_api_key(session=session, kind="read", unit=tree["b"])[1]
    metric = get_score(client, read, "KRP").json()["metrics"][0]
    assert (metric["numerator"], metric["denominator"], metric["score"]) == (1, 3, 2.22)  # 3 − 1 − 1; 6 × ⅓ ÷ 0.9


def test_scoping_and_bad_input(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    key_b = create_api_key(session=session, kind="read", unit=tree["b"])[1]
    assert get_score(client, key_b, "KRP").status_code == 200
    assert get_score(client, key_b, "KRP").json()["unit"] == "KRP"
    outside = get_score(client, key_b, "BMT")
    assert outside.status_code == 403 and "outside" in outside.json()["detail"]
    assert get_score(client, key_b, "DLK").status_code == 403  # the parent is outside too
    assert get_score(client, key_b, "NOPE").status_code == 404
    for bad in ("2026-13", "october", "2026-Q5", ""):
        response = get_score(client, key_b, "KRP", bad)
        assert response.status_code == 422 and "detail" in response.json(), bad
    assert client.get("/api/v1/scores/766", params={"period": "2026-10"}).status_code == 401
    visits_key = create_api_key(session=session, kind="visits", unit=tree["b"])[1]
    assert get_score(client, visits_key, "KRP").status_code == 401
    # Without `unit`: the key's own unit.
    own = client.get("/api/v1/scores/766", params={"period": "2026-10"}, headers={"Authorization": f"Bearer {key_b}"})
    assert own.json()["unit"] == "KRP"


def test_a_manager_session_reads_its_own_subtree_only(
    client: TestClient, session: Session, tree: dict[str, Unit]
) -> None:
    from tests import logins

    manager = logins.user(session, "manager", tree["b"])
    logins.login(client, manager)
    ok = client.get("/api/v1/scores/766", params={"period": "2026-10", "unit": "KRP"})
    assert ok.status_code == 200 and ok.json()["total"] == 12.0
    assert client.get("/api/v1/scores/766", params={"period": "2026-10", "unit": "BMT"}).status_code == 403
