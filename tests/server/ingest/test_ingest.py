"""`POST /api/v1/ratings`: per-item results, idempotency, strict input, clock correction, misuse, visits."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import Session, select

from server.contracts import RatingIn
from server.ingest.references import ReferenceCache
from server.models import Counter, KioskDevice, ProcedureField, Rating, RatingReason, Reason, Visit
from tests import factories

HCM = factories.HCM


@dataclass
class Kiosk:
    counter: Counter
    device: KioskDevice
    token: str


@pytest.fixture
def kiosk(session: Session) -> Kiosk:
    unit = factories.unit(session)
    counter = factories.counter(session, unit)
    device, token = factories.kiosk_device(session, counter)
    return Kiosk(counter, device, token)


def item(**overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": str(uuid.uuid4()),
        "level": 4,
        "field": "land",
        "visit_token": None,
        "reasons": [],
        "comment": None,
        "rated_at": datetime.now(UTC).astimezone(HCM).isoformat(),
    }
    values.update(overrides)
    return values


def post(client: TestClient, token: str, ratings: list[Any], **envelope: Any) -> Response:
    body = {"ratings": ratings, **envelope}
    return client.post("/api/v1/ratings", json=body, headers={"Authorization": f"Bearer {token}"})


def statuses(response: Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [r["status"] for r in response.json()["results"]]


def stored(session: Session, rating_id: str) -> Rating:
    session.expire_all()
    return session.exec(select(Rating).where(Rating.id == uuid.UUID(rating_id))).one()


def test_created_then_replay_is_duplicate(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    first = item(level=2, reasons=["late", "waiting"])
    second = item(level=3)
    response = post(client, kiosk.token, [first, second])
    assert response.json() == {
        "results": [{"id": first["id"], "status": "created"}, {"id": second["id"], "status": "created"}]
    }
    assert statuses(post(client, kiosk.token, [second, first])) == ["duplicate", "duplicate"]
    row = stored(session, first["id"])
    assert (row.level, row.satisfied, row.channel) == (2, False, "kiosk")
    assert (row.counter_id, row.unit_id, row.device_id) == (kiosk.counter.id, kiosk.counter.unit_id, kiosk.device.id)
    assert stored(session, second["id"]).satisfied is True
    codes = session.exec(
        select(Reason.code).join(RatingReason).where(RatingReason.rating_id == uuid.UUID(first["id"]))
    ).all()
    assert sorted(codes) == ["late", "waiting"]
    assert session.exec(select(sa.func.count()).select_from(Rating)).one() == 2


@pytest.mark.parametrize(
    "change",
    [{"level": 1}, {"field": "tax"}, {"reasons": ["late"]}, {"rated_at": "2026-01-01T00:00:00+07:00"}],
    ids=["level", "field", "reasons", "time"],
)
def test_same_id_other_content_is_conflict_and_keeps_the_stored_row(
    client: TestClient, session: Session, kiosk: Kiosk, change: dict[str, Any]
) -> None:
    original = item(level=2, rated_at=datetime.now(UTC).isoformat())
    assert statuses(post(client, kiosk.token, [original])) == ["created"]
    result = post(client, kiosk.token, [{**original, **change}]).json()["results"][0]
    assert result["status"] == "conflict" and "kept" in result["detail"]
    row = stored(session, original["id"])
    assert (row.level, row.field_id) == (2, factories.field(session, "land").id)


def test_invalid_items_do_not_spoil_valid_ones(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    now = datetime.now(UTC)
    good = [item(), item(level=1, reasons=["attitude"])]
    bad: list[tuple[Any, str]] = [
        (item(level=True), "level"),
        (item(level="3"), "level"),
        (item(level=3.0), "level"),
        (item(level=9), "unknown level 9"),
        (item(field="nonsense"), "unknown field"),
        (item(reasons=["late", "bribes"]), "unknown reason 'bribes'"),
        (item(rated_at=1760000000), "rated_at"),
        (item(rated_at="2026-10-05T09:12:00"), "rated_at"),  # no offset
        (item(rated_at=(now - timedelta(days=401)).isoformat()), "400 days"),
        (item(rated_at=(now + timedelta(minutes=6)).isoformat()), "future"),
        (item(id="not-a-uuid"), "id"),
        ({k: v for k, v in item().items() if k != "id"}, "id"),
        (item(reasons="late"), "reasons"),
        ("just a string", "JSON object"),
    ]
    mixed = [good[0], *[b for b, _ in bad], good[1]]
    results = post(client, kiosk.token, mixed).json()["results"]
    assert len(results) == len(mixed)
    assert [r["status"] for r in results] == ["created"] + ["invalid"] * len(bad) + ["created"]
    for (sent, expected), result in zip(bad, results[1:-1], strict=True):
        assert expected in result["detail"], (sent, result)
    assert results[11]["id"] == "not-a-uuid" and results[12]["id"] is None
    assert session.exec(select(sa.func.count()).select_from(Rating)).one() == 2


def test_limits_of_the_past_and_the_future(client: TestClient, kiosk: Kiosk) -> None:
    now = datetime.now(UTC)
    ok = [
        item(rated_at=(now - timedelta(days=399)).isoformat()),
        item(rated_at=(now + timedelta(minutes=4)).isoformat()),
    ]
    assert statuses(post(client, kiosk.token, ok)) == ["created", "created"]


def test_clock_correction_and_skew_flag(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    now = datetime.now(UTC)
    kiosk_now = now - timedelta(hours=2)  # the kiosk's clock is two hours behind
    rated = item(rated_at=(kiosk_now - timedelta(minutes=1)).astimezone(HCM).isoformat())
    assert statuses(post(client, kiosk.token, [rated], sent_at=kiosk_now.isoformat())) == ["created"]
    row = stored(session, rated["id"])
    assert row.client_rated_at == kiosk_now - timedelta(minutes=1)
    assert abs((row.rated_at - (now - timedelta(minutes=1))).total_seconds()) < 30
    assert row.local_date == row.rated_at.astimezone(HCM).date()
    session.refresh(kiosk.device)
    assert kiosk.device.clock_offset_seconds is not None and abs(kiosk.device.clock_offset_seconds - 7200) < 30
    assert kiosk.device.clock_flagged is True

    # A backlog delivered three days late by a kiosk with a right clock is not skew, and is not moved.
    late = item(rated_at=(now - timedelta(days=3)).isoformat())
    assert statuses(post(client, kiosk.token, [late], sent_at=datetime.now(UTC).isoformat())) == ["created"]
    assert abs((stored(session, late["id"]).rated_at - (now - timedelta(days=3))).total_seconds()) < 30
    session.refresh(kiosk.device)
    assert kiosk.device.clock_flagged is False
    assert kiosk.device.last_seen_at is not None


def test_future_is_judged_after_clock_correction(client: TestClient, kiosk: Kiosk) -> None:
    kiosk_now = datetime.now(UTC) + timedelta(hours=1)  # an hour ahead: its "now" is not the future
    fine = item(rated_at=kiosk_now.isoformat())
    ahead = item(rated_at=(kiosk_now + timedelta(minutes=10)).isoformat())
    results = post(client, kiosk.token, [fine, ahead], sent_at=kiosk_now.isoformat()).json()["results"]
    assert [r["status"] for r in results] == ["created", "invalid"]


def test_local_date_is_the_reporting_day(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    day = datetime.now(UTC).astimezone(HCM).date() - timedelta(days=2)
    late_evening = datetime(day.year, day.month, day.day, 23, 30, tzinfo=HCM)  # 16:30 UTC the same day
    rated = item(rated_at=late_evening.astimezone(UTC).isoformat())
    assert statuses(post(client, kiosk.token, [rated])) == ["created"]
    assert stored(session, rated["id"]).local_date == day


def test_unit_and_counter_come_from_the_device(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    rated = item(unit="SOMEWHERE", counter="ELSE", unit_id=1, counter_id=1)
    assert statuses(post(client, kiosk.token, [rated])) == ["created"]
    row = stored(session, rated["id"])
    assert (row.counter_id, row.unit_id) == (kiosk.counter.id, kiosk.counter.unit_id)


def test_duplicate_ids_inside_one_batch(client: TestClient, kiosk: Kiosk) -> None:
    rated = item()
    assert statuses(post(client, kiosk.token, [rated, rated, {**rated, "level": 1}])) == [
        "created",
        "duplicate",
        "conflict",
    ]


def test_size_limits(client: TestClient, kiosk: Kiosk) -> None:
    assert statuses(post(client, kiosk.token, [item() for _ in range(500)])).count("created") == 500
    too_many = post(client, kiosk.token, [item() for _ in range(501)])
    assert too_many.status_code == 413 and "at most 500" in too_many.json()["detail"]
    huge = json.dumps({"ratings": [item(comment="x" * 900)] * 3, "pad": "y" * 5_000_000})
    too_big = client.post(
        "/api/v1/ratings",
        content=huge,
        headers={"Authorization": f"Bearer {kiosk.token}", "content-type": "application/json"},
    )
    assert too_big.status_code == 413 and "bytes" in too_big.json()["detail"]
    streamed = client.post(  # no Content-Length: counted while it arrives
        "/api/v1/ratings",
        content=iter([huge.encode()[i : i + 65536] for i in range(0, len(huge), 65536)]),
        headers={"Authorization": f"Bearer {kiosk.token}", "content-type": "application/json"},
    )
    assert streamed.status_code == 413 and "larger than" in streamed.json()["detail"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"ratings=1", "not valid JSON"),
        (b"", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"ratings": 3}', "ratings"),
        (b'{"items": []}', "ratings"),
        (b'{"ratings": [], "sent_at": "yesterday"}', "sent_at"),
    ],
)
def test_malformed_envelope_is_422_with_a_message(client: TestClient, kiosk: Kiosk, body: bytes, message: str) -> None:
    response = client.post("/api/v1/ratings", content=body, headers={"Authorization": f"Bearer {kiosk.token}"})
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_unknown_or_revoked_device_is_401(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    assert post(client, "not-a-token", [item()]).status_code == 401
    assert client.post("/api/v1/ratings", json={"ratings": []}).status_code == 401
    kiosk.device.revoked_at = datetime.now(UTC)
    session.add(kiosk.device)
    session.flush()
    response = post(client, kiosk.token, [item()])
    assert response.status_code == 401 and "revoked" in response.json()["detail"]


def test_empty_batch(client: TestClient, kiosk: Kiosk) -> None:
    assert post(client, kiosk.token, []).json() == {"results": []}


def reason_codes(session: Session, rating_id: str) -> set[str]:
    return set(
        session.exec(
            select(Reason.code)
            .join(RatingReason, RatingReason.reason_id == Reason.id)  # type: ignore[arg-type]
            .where(RatingReason.rating_id == uuid.UUID(rating_id))
        ).all()
    )


def test_a_batch_mixing_replays_and_new_ratings_stores_the_new_ones_reasons_only(
    client: TestClient, session: Session, kiosk: Kiosk
) -> None:
    first = item(level=2, reasons=["late"])
    assert statuses(post(client, kiosk.token, [first])) == ["created"]
    again = {**first, "reasons": ["fees"]}  # the same id with other reasons: a conflict, nothing added
    new = item(level=1, reasons=["waiting", "late"])
    assert statuses(post(client, kiosk.token, [again, new, first])) == ["conflict", "created", "duplicate"]
    assert reason_codes(session, first["id"]) == {"late"}
    assert reason_codes(session, new["id"]) == {"waiting", "late"}


def test_the_device_row_follows_every_batch(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    """Last contact and clock on every batch (replays only, too); the latest walk-up press moves forward only,
    counting the ratings stored now (not replays, not visits)."""
    start = datetime.now(UTC) - timedelta(hours=1)
    later = presses(start, [60])
    post(client, kiosk.token, later)
    session.refresh(kiosk.device)
    assert kiosk.device.last_press_at == start + timedelta(seconds=60)
    earlier = presses(start, [30])
    post(client, kiosk.token, earlier)  # a backlog arriving late
    session.refresh(kiosk.device)
    assert kiosk.device.last_press_at == start + timedelta(seconds=60)
    visit = factories.counter_visit(session, kiosk.counter, created_at=start)
    post(client, kiosk.token, presses(start, [90], visit_token=visit.token))
    session.refresh(kiosk.device)
    assert kiosk.device.last_press_at == start + timedelta(seconds=60)

    skewed = datetime.now(UTC) - timedelta(hours=1)  # a replay only, from a kiosk whose clock is an hour behind
    assert statuses(post(client, kiosk.token, later, sent_at=skewed.isoformat())) == ["duplicate"]
    session.refresh(kiosk.device)
    assert kiosk.device.clock_flagged is True and abs((kiosk.device.clock_offset_seconds or 0) - 3600) < 30
    assert kiosk.device.last_press_at == start + timedelta(seconds=60)
    seen = kiosk.device.last_seen_at
    assert statuses(post(client, kiosk.token, presses(start, [120]))) == ["created"]  # no sent_at: clock kept
    session.refresh(kiosk.device)
    assert kiosk.device.clock_flagged is True and seen is not None and kiosk.device.last_seen_at > seen
    assert kiosk.device.last_press_at == start + timedelta(seconds=120)


def test_a_code_added_after_the_worker_read_the_codes_is_accepted(
    client: TestClient, session: Session, kiosk: Kiosk
) -> None:
    assert statuses(post(client, kiosk.token, [item()])) == ["created"]  # the worker now holds the codes
    session.add(ProcedureField(code="new-field", name_vi="Mới", name_en="New"))
    session.flush()
    rated = item(field="new-field")
    assert statuses(post(client, kiosk.token, [rated, item(field="no-such-field")])) == ["created", "invalid"]
    assert stored(session, rated["id"]).field_id == factories.field(session, "new-field").id


def test_the_reference_cache_is_read_again_when_old_or_missing_a_code(session: Session) -> None:
    conn = session.connection()
    cache = ReferenceCache(seconds=3600)
    land = ingest_item(field="land")
    held = cache.get(conn, [land])
    assert cache.get(conn, [land]) is held
    assert cache.get(conn, [ingest_item(field="unknown")]) is not held  # read again (and still unknown)
    held = cache.get(conn, [land])
    cache.seconds = 0
    assert cache.get(conn, [land]) is not held


def ingest_item(**overrides: Any) -> RatingIn:
    return RatingIn.model_validate(item(**overrides))


# --- misuse -----------------------------------------------------------------------------------------------------


def presses(start: datetime, offsets: list[float], **extra: Any) -> list[dict[str, Any]]:
    return [item(rated_at=(start + timedelta(seconds=s)).isoformat(), **extra) for s in offsets]


def flags(session: Session, ratings: list[dict[str, Any]]) -> list[bool]:
    return [stored(session, r["id"]).misuse for r in ratings]


def test_rapid_repeats_are_kept_but_flagged_whatever_the_order(
    client: TestClient, session: Session, kiosk: Kiosk
) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    batch = presses(start, [0, 1, 5, 6.5, 9.9, 20])
    shuffled = batch[:]
    random.Random(3).shuffle(shuffled)
    assert statuses(post(client, kiosk.token, shuffled)).count("created") == 6
    assert flags(session, batch) == [False, True, False, True, False, False]
    assert stored(session, batch[1]["id"]).misuse_reason == "rapid_repeat"
    session.refresh(kiosk.device)
    assert kiosk.device.last_press_at == start + timedelta(seconds=20)


def test_misuse_across_batches_arriving_out_of_order(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    start = datetime.now(UTC) - timedelta(hours=1)
    later, earlier = presses(start, [10]), presses(start, [8.5])
    post(client, kiosk.token, later)
    assert flags(session, later) == [False]
    post(client, kiosk.token, earlier)  # the earlier press arrives second: the later one becomes the repeat
    assert flags(session, earlier + later) == [False, True]
    follow = presses(start, [12])
    post(client, kiosk.token, follow)
    assert flags(session, follow) == [True]


def test_presses_at_another_kiosk_or_with_a_visit_are_not_misuse(
    client: TestClient, session: Session, kiosk: Kiosk
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    _other_device, other_token = factories.kiosk_device(session, factories.counter(session, factories.unit(session)))
    visit = factories.counter_visit(session, kiosk.counter, created_at=start - timedelta(minutes=1))
    mine = presses(start, [0])
    with_visit = presses(start, [1], visit_token=visit.token)
    theirs = presses(start, [0.5])
    post(client, kiosk.token, mine + with_visit)
    post(client, other_token, theirs)
    assert flags(session, mine + with_visit + theirs) == [False, False, False]
    window_elapsed = presses(start, [5.5])
    quick = presses(start, [2])
    post(client, kiosk.token, window_elapsed + quick)
    assert flags(session, quick + window_elapsed) == [True, False]


# --- visits -----------------------------------------------------------------------------------------------------


def test_rating_a_visit(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    officer = factories.officer(session, session.get_one(factories.Unit, kiosk.counter.unit_id))
    visit = factories.counter_visit(session, kiosk.counter, field_code="construction", officer_=officer)
    rated = item(visit_token=visit.token, field="construction", level=3)
    assert statuses(post(client, kiosk.token, [rated])) == ["created"]
    row = stored(session, rated["id"])
    assert row.visit_id == visit.id and row.officer_id == officer.id
    assert row.field_id == factories.field(session, "construction").id
    session.refresh(visit)
    assert visit.rated_at == row.rated_at
    assert statuses(post(client, kiosk.token, [rated])) == ["duplicate"]
    another = post(client, kiosk.token, [item(visit_token=visit.token)]).json()["results"][0]
    assert another["status"] == "conflict" and "already been rated" in another["detail"]


def test_the_field_of_a_visit_wins(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    visit = factories.counter_visit(session, kiosk.counter, field_code="tax")
    rated = item(visit_token=visit.token, field="land")
    assert statuses(post(client, kiosk.token, [rated])) == ["created"]
    assert stored(session, rated["id"]).field_id == factories.field(session, "tax").id


def test_visit_already_rated_by_phone_is_conflict(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    visit = factories.counter_visit(session, kiosk.counter)
    phone = factories.rating(session, kiosk.counter, channel="phone")
    phone.visit_id = visit.id
    visit.rated_at = datetime.now(UTC)
    session.add_all([phone, visit])
    session.flush()
    result = post(client, kiosk.token, [item(visit_token=visit.token)]).json()["results"][0]
    assert result["status"] == "conflict"


def test_two_ratings_of_one_visit_in_a_batch(client: TestClient, kiosk: Kiosk, session: Session) -> None:
    visit = factories.counter_visit(session, kiosk.counter)
    assert statuses(post(client, kiosk.token, [item(visit_token=visit.token), item(visit_token=visit.token)])) == [
        "created",
        "conflict",
    ]


def test_unusable_visits_are_invalid(client: TestClient, session: Session, kiosk: Kiosk) -> None:
    elsewhere = factories.counter_visit(session, factories.counter(session, factories.unit(session)))
    old = datetime.now(UTC) - timedelta(days=40)
    expired = factories.counter_visit(session, kiosk.counter, created_at=old)
    results = post(
        client,
        kiosk.token,
        [item(visit_token="nope"), item(visit_token=elsewhere.token), item(visit_token=expired.token)],
    ).json()["results"]
    assert [r["status"] for r in results] == ["invalid"] * 3
    assert ["unknown visit" in results[0]["detail"], "another counter" in results[1]["detail"]] == [True, True]
    assert "expired" in results[2]["detail"]
    session.expire_all()
    assert session.get_one(Visit, expired.id).rated_at is None


def test_openapi_documents_the_body(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/api/v1/ratings"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["ratings"]["items"]["properties"]["level"]["type"] == "integer"
    assert "$ref" not in json.dumps(body)
