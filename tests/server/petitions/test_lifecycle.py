"""Petitions end to end over HTTP: from a phone rating, the inbox, answer, the citizen's reaction (reopen once),
the public form, the import API, scope, CSRF and the contact purge."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.auth.service import create_api_key
from server.models import AuditLog, Petition, PetitionEvent, Rating, Unit, User
from server.petitions import service
from tests import factories, logins
from tests.server.dossiers.helpers import petition_item
from tests.server.visits import factories as vf


@pytest.fixture
def tree(session: Session) -> dict[str, Unit]:
    root = factories.unit(session, code="P-ROOT", name="Tỉnh")
    ward = factories.unit(session, root, code="P-WARD", name="Phường Một")
    other = factories.unit(session, root, code="P-OTHER", name="Phường Hai")
    return {"root": root, "ward": ward, "other": other}


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]+)"', html)
    assert match, f"no {name} field"
    return match.group(1)


def _phone_rating(client: TestClient, session: Session, unit: Unit, **fields: str) -> str:
    visit = vf.visit(session, factories.counter(session, unit))
    page = client.get(f"/r/{visit.token}")
    answer = client.post(
        f"/r/{visit.token}", data={"csrf": _field(page.text, "csrf"), **fields}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return visit.token


def _petition_link(client: TestClient, visit_token: str) -> str | None:
    thanks = client.get(f"/r/{visit_token}/thanks")
    assert thanks.status_code == 200
    match = re.search(r'href="(/pakn/[^"]+)"', thanks.text)
    return match.group(1) if match else None


def office_steps(manager: User) -> list[tuple[str, dict[str, str]]]:
    """Every form the office posts on a petition (`/petitions/{id}/{step}`) with valid data from `manager`."""
    return [
        ("assign", {"assignee": manager.username}),
        ("answer", {"text": "x"}),
        ("close", {}),
        ("category", {"category": "staff"}),
        ("contact", {}),
    ]


def test_a_not_satisfied_phone_rating_with_comment_and_consent_becomes_a_petition(
    client: TestClient, session: Session, tree: dict[str, Unit]
) -> None:
    token = _phone_rating(
        client, session, tree["ward"], level="1", comment="Chờ quá lâu", contact="0912 345 678", consent="1"
    )
    link = _petition_link(client, token)
    assert link is not None
    petition = session.exec(select(Petition)).one()
    assert (petition.source, petition.status, petition.category, petition.unit_id) == (
        "rating",
        "received",
        "other",
        tree["ward"].id,
    )
    assert petition.contact_phone == "0912345678" and petition.content == "Chờ quá lâu"
    assert petition.rating_id == session.exec(select(Rating.id)).one()
    assert link == f"/pakn/{petition.token}" and len(petition.token) >= 22
    page = client.get(link)
    assert page.status_code == 200 and "Đã tiếp nhận" in page.text and "Chờ quá lâu" in page.text
    assert "0912" not in page.text  # the contact is never shown on the public page


@pytest.mark.parametrize(
    "fields",
    [
        {"level": "1", "comment": "Chờ lâu"},  # no consent, no contact
        {"level": "4", "comment": "Tốt", "contact": "a@b.vn", "consent": "1"},  # satisfied
        {"level": "1", "contact": "a@b.vn", "consent": "1"},  # no comment
    ],
)
def test_other_ratings_do_not(
    client: TestClient, session: Session, tree: dict[str, Unit], fields: dict[str, str]
) -> None:
    token = _phone_rating(client, session, tree["ward"], **fields)
    assert _petition_link(client, token) is None
    assert session.exec(select(Petition)).all() == []


def test_manager_assigns_answers_and_the_citizen_reopens_once(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    petition = factories.petition(session, settings, tree["ward"], contact=service.Contact(email="dan@example.vn"))
    manager = logins.user(session, "manager", tree["ward"], username="ql-ward")
    officer = logins.user(session, "officer", tree["ward"], username="cb-ward")
    csrf = logins.login(client, manager)
    inbox = client.get("/petitions")
    assert inbox.status_code == 200 and f"/petitions/{petition.id}" in inbox.text
    detail = client.get(f"/petitions/{petition.id}")
    assert detail.status_code == 200 and "dan@example.vn" not in detail.text  # contact hidden until asked

    r = client.post(f"/petitions/{petition.id}/assign", data={"csrf_token": csrf, "assignee": "cb-ward"})
    assert r.status_code == 200  # followed the 303 back to the detail page
    session.refresh(petition)
    assert (petition.status, petition.assignee_id) == ("assigned", officer.id)

    r = client.post(f"/petitions/{petition.id}/answer", data={"csrf_token": csrf, "text": "Đã rút ngắn thời gian."})
    assert r.status_code == 200
    session.refresh(petition)
    assert petition.status == "answered" and petition.answered_at is not None

    citizen = TestClient(client.app)
    page = citizen.get(f"/pakn/{petition.token}")
    assert "Đã rút ngắn thời gian." in page.text and 'value="not_satisfied"' in page.text
    r = citizen.post(f"/pakn/{petition.token}", data={"csrf": _field(page.text, "csrf"), "reaction": "not_satisfied"})
    assert r.status_code == 200
    session.refresh(petition)
    assert (petition.status, petition.reopened, petition.reaction) == ("reopened", True, "not_satisfied")

    client.post(f"/petitions/{petition.id}/answer", data={"csrf_token": csrf, "text": "Trả lời lần hai."})
    page = citizen.get(f"/pakn/{petition.token}")
    assert "Trả lời lần hai." in page.text
    citizen.post(f"/pakn/{petition.token}", data={"csrf": _field(page.text, "csrf"), "reaction": "not_satisfied"})
    session.refresh(petition)
    # The second "not satisfied" is final: no second reopening.
    assert (petition.status, petition.reopened, petition.reaction) == ("closed", True, "not_satisfied")
    again = citizen.post(f"/pakn/{petition.token}", data={"csrf": _field(page.text, "csrf"), "reaction": "satisfied"})
    assert again.status_code == 409

    actions = [e.action for e in session.exec(select(PetitionEvent).where(PetitionEvent.petition_id == petition.id))]
    assert actions == ["received", "assigned", "answered", "reopened", "answered", "reacted:not_satisfied"]
    audited = {a.action for a in session.exec(select(AuditLog).where(AuditLog.target == f"petition:{petition.id}"))}
    assert {"petition.create", "petition.assign", "petition.answer", "petition.react"} <= audited


def test_a_satisfied_reaction_closes(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    petition = factories.petition(session, settings, tree["ward"])
    service.answer(session=session, settings=settings, petition=petition, text="OK", actor="x")  # type: ignore[arg-type]
    page = client.get(f"/pakn/{petition.token}")
    client.post(f"/pakn/{petition.token}", data={"csrf": _field(page.text, "csrf"), "reaction": "satisfied"})
    session.refresh(petition)
    assert (petition.status, petition.reaction, petition.reopened) == ("closed", "satisfied", False)


def test_contact_views_are_for_handlers_and_audited(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    petition = factories.petition(session, settings, tree["ward"], contact=service.Contact(phone="0912345678"))
    manager = logins.user(session, "manager", tree["root"])
    csrf = logins.login(client, manager)
    shown = client.post(f"/petitions/{petition.id}/contact", data={"csrf_token": csrf})
    assert shown.status_code == 200 and "0912345678" in shown.text
    views = session.exec(select(AuditLog).where(AuditLog.action == "petition.contact_view")).all()
    assert [v.actor for v in views] == [manager.username]
    # An officer of the unit who is not assigned cannot open it at all.
    officer = logins.user(session, "officer", tree["ward"])
    other = TestClient(client.app)
    csrf2 = logins.login(other, officer)
    assert other.post(f"/petitions/{petition.id}/contact", data={"csrf_token": csrf2}).status_code == 404


def test_another_units_petitions_are_out_of_reach(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    mine = factories.petition(session, settings, tree["ward"])
    theirs = factories.petition(session, settings, tree["other"])
    manager = logins.user(session, "manager", tree["ward"])
    csrf = logins.login(client, manager)
    inbox = client.get("/petitions?status=all")
    assert str(mine.id) in inbox.text and str(theirs.id) not in inbox.text
    assert client.get(f"/petitions/{theirs.id}").status_code == 404
    for step, data in office_steps(manager):
        r = client.post(f"/petitions/{theirs.id}/{step}", data={"csrf_token": csrf, **data})
        assert r.status_code == 404, step
    assert client.get("/petitions?unit=P-OTHER").status_code == 403
    assert client.get(f"/api/v1/petitions/{theirs.id}", headers={"accept": "application/json"}).status_code == 404
    assert client.get(f"/api/v1/petitions/{mine.id}").json()["status"] == "received"
    session.refresh(theirs)
    assert theirs.status == "received" and theirs.answer is None


def test_every_form_needs_the_csrf_token(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    petition = factories.petition(session, settings, tree["ward"])
    manager = logins.user(session, "manager", tree["ward"])
    logins.login(client, manager)
    for step, data in office_steps(manager):
        r = client.post(f"/petitions/{petition.id}/{step}", data=data, headers={"accept": "text/html"})
        assert r.status_code == 403, step
    assert client.post("/petitions/preferences", data={"email": "a@b.vn"}).status_code == 403
    # The citizen's forms: without the nonce cookie and token, a friendly 403 page.
    stranger = TestClient(client.app)
    assert stranger.post(f"/pakn/{petition.token}", data={"reaction": "satisfied"}).status_code == 403
    assert stranger.post("/gop-y", data={"unit": "P-WARD", "category": "tthc", "content": "x"}).status_code == 403
    session.refresh(petition)
    assert petition.status == "received"


def test_the_public_form_files_a_petition(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    form = client.get("/gop-y")
    assert form.status_code == 200 and "Phường Một" in form.text and "<script" not in form.text
    csrf = _field(form.text, "csrf")
    bad = client.post("/gop-y", data={"csrf": csrf, "unit": "P-WARD", "category": "tthc", "content": "", "email": "x"})
    assert bad.status_code == 422 and "Địa chỉ email không hợp lệ." in bad.text
    ok = client.post(
        "/gop-y",
        data={
            "csrf": csrf,
            "unit": "P-WARD",
            "category": "staff",
            "content": "Cán bộ thiếu niềm nở",
            "dossier_code": "000.00.H12-1",
            "email": "dan@example.vn",
        },
        follow_redirects=False,
    )
    assert ok.status_code == 303 and ok.headers["location"].startswith("/pakn/")
    petition = session.exec(select(Petition)).one()
    assert (petition.source, petition.category, petition.dossier_code, petition.contact_email) == (
        "form",
        "staff",
        "000.00.H12-1",
        "dan@example.vn",
    )
    robot = client.post(
        "/gop-y", data={"csrf": csrf, "unit": "P-WARD", "category": "tthc", "content": "x", "website": "spam"}
    )
    assert robot.status_code == 400
    # A robot filling a second copy of the hidden field (the first empty) is turned away too.
    second_copy = "csrf=" + csrf + "&unit=P-WARD&category=tthc&content=x&website=&website=spam"
    robot = client.post("/gop-y", content=second_copy, headers={"content-type": "application/x-www-form-urlencoded"})
    assert robot.status_code == 400
    assert session.exec(select(Petition)).one().source == "form"  # still only the citizen's petition
    assert client.get("/pakn/not-a-real-token").status_code == 404


def test_import_is_idempotent_and_scoped(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    _, key = create_api_key(session=session, kind="visits", unit=tree["ward"])
    item = petition_item("P-WARD", answered=None, received_at="2026-12-30T09:00:00+07:00")
    pid = item["id"]
    auth = {"Authorization": f"Bearer {key}"}
    first = client.post("/api/v1/petitions", json={"petitions": [item]}, headers=auth)
    assert first.status_code == 200 and first.json()["results"] == [{"id": pid, "status": "created", "detail": None}]
    again = client.post("/api/v1/petitions", json={"petitions": [item]}, headers=auth)
    assert again.json()["results"][0]["status"] == "unchanged"
    done = {**item, "answered_at": "2027-01-05T10:00:00+07:00", "reaction": "satisfied"}
    outside = {**item, "id": str(uuid.uuid4()), "unit": "P-OTHER"}
    r = client.post("/api/v1/petitions", json={"petitions": [done, outside, {"id": "x"}]}, headers=auth)
    statuses = [x["status"] for x in r.json()["results"]]
    assert statuses == ["updated", "invalid", "invalid"]
    got = client.get(f"/api/v1/petitions/{pid}", headers=auth).json()
    assert got["due_at"] == "2027-01-21T23:59:59+07:00"
    assert (got["status"], got["reaction"], got["source"]) == ("closed", "satisfied", "import")
    assert got["content"] == item["content"] == "Hồ sơ của tôi bị chậm"
    assert not {"contact_name", "contact_email", "contact_phone", "token"} & set(got)  # never contacts nor the link
    imported = session.get(Petition, uuid.UUID(pid))
    assert imported is not None
    session.refresh(imported)
    assert imported.closed_at is not None  # closed by an update: its contact's retention period runs from now
    assert client.post("/api/v1/petitions", json={"petitions": [item]}).status_code == 401
    assert client.post("/api/v1/petitions", json={"nope": 1}, headers=auth).status_code == 422
    _, other_key = create_api_key(session=session, kind="read", unit=tree["other"])
    assert client.get(f"/api/v1/petitions/{pid}", headers={"Authorization": f"Bearer {other_key}"}).status_code == 404


def _closed(session: Session, settings: object, petition: Petition, months_ago: int) -> Petition:
    """`petition` answered and closed by its manager about `months_ago` months ago."""
    service.answer(session=session, settings=settings, petition=petition, text="Đã xử lý.", actor="ql")  # type: ignore[arg-type]
    service.close(session=session, petition=petition, actor="ql")
    petition.closed_at = datetime.now(UTC) - timedelta(days=round(months_ago * 30.5))
    session.flush()
    return petition


def test_purge_erases_contacts_a_year_after_closing_and_keeps_the_petition(
    session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    """Issue 15, finding 2: the retention period is 12 months after closing (DOMAIN), not 24 after receiving."""
    now = datetime.now(UTC)

    def filed(email: str, received_days_ago: int) -> Petition:
        contact = service.Contact(email=email, name="An")
        received = now - timedelta(days=received_days_ago)
        return factories.petition(session, settings, tree["ward"], contact=contact, received_at=received)

    old = _closed(session, settings, filed("a@b.vn", 500), months_ago=13)
    recent = _closed(session, settings, filed("r@b.vn", 500), months_ago=11)
    still_open = filed("o@b.vn", 3 * 365)  # received three years ago, never closed
    answered = filed("w@b.vn", 3 * 365)
    service.answer(session=session, settings=settings, petition=answered, text="Chờ phản hồi.", actor="ql")  # type: ignore[arg-type]
    new = filed("c@d.vn", 0)
    counter = factories.counter(session, tree["ward"])
    rating = factories.rating(session, counter, level=1, at=now - timedelta(days=900), channel="phone")
    rating.comment, rating.contact, rating.contact_consent = "Chậm", "0912345678", True
    session.flush()
    from_rating = service.petition_from_rating(session=session, settings=settings, rating_id=rating.id)  # type: ignore[arg-type]
    assert from_rating is not None and from_rating.contact_phone == "0912345678"
    _closed(session, settings, from_rating, months_ago=14)
    assert settings.petition_contact_retention_months == 12  # type: ignore[attr-defined]
    assert service.purge_contacts(session=session, settings=settings) == 2  # type: ignore[arg-type]
    for petition in (old, recent, still_open, answered, new, from_rating):
        session.refresh(petition)
    session.refresh(rating)
    # The rating it came from loses its contact too; the rating itself (and its comment) stays.
    assert (rating.contact, rating.comment, from_rating.contact_phone) == (None, "Chậm", None)
    assert (old.contact_email, old.contact_name, old.contact_erased_at is not None) == (None, None, True)
    assert old.content == "Thủ tục chậm" and old.status == "closed"
    # Closed 11 months ago, open for three years, answered and waiting for the citizen, new: all kept.
    kept = [recent.contact_email, still_open.contact_email, answered.contact_email, new.contact_email]
    assert kept == ["r@b.vn", "o@b.vn", "w@b.vn", "c@d.vn"]
    assert service.purge_contacts(session=session, settings=settings) == 0  # type: ignore[arg-type]
    # A month later, the one closed 11 months ago has had its year too.
    later = now + timedelta(days=62)
    assert service.purge_contacts(session=session, settings=settings, now=later) == 1  # type: ignore[arg-type]
    session.refresh(recent)
    assert recent.contact_email is None and still_open.contact_email == "o@b.vn"


def test_refused_steps_get_a_vietnamese_page(
    client: TestClient, session: Session, settings: object, tree: dict[str, Unit]
) -> None:
    petition = factories.petition(session, settings, tree["ward"])
    manager = logins.user(session, "manager", tree["ward"])
    csrf = logins.login(client, manager)
    html = {"accept": "text/html"}
    closed = client.post(f"/petitions/{petition.id}/close", data={"csrf_token": csrf}, headers=html)
    assert closed.status_code == 409 and "Chỉ kết thúc được phản ánh đã trả lời" in closed.text
    empty = client.post(f"/petitions/{petition.id}/answer", data={"csrf_token": csrf, "text": "  "}, headers=html)
    assert empty.status_code == 422 and "Câu trả lời đang để trống" in empty.text
    stranger = client.post(f"/petitions/{petition.id}/assign", data={"csrf_token": csrf, "assignee": "nobody"})
    assert stranger.status_code == 422
    assert client.get("/petitions?status=lost", headers=html).status_code == 422
    bad_email = client.post("/petitions/preferences", data={"csrf_token": csrf, "email": "x@"}, headers=html)
    assert bad_email.status_code == 422 and "Địa chỉ email không hợp lệ" in bad_email.text
    session.refresh(petition)
    assert petition.status == "received" and petition.answer is None


def test_import_refuses_odd_items_one_by_one(client: TestClient, session: Session, tree: dict[str, Unit]) -> None:
    _, key = create_api_key(session=session, kind="visits", unit=tree["ward"])
    base = {"unit": "P-WARD", "category": "other", "received_at": "2026-12-30T09:00:00+07:00", "content": "Nội dung"}
    items = [
        {**base, "id": str(uuid.uuid4()), "received_at": "1990-01-01T00:00:00+07:00"},
        {**base, "id": str(uuid.uuid4()), "content": "\u0000\u0001"},
        {**base, "id": str(uuid.uuid4()), "received_at": "2026-12-30T09:00:00"},  # no offset
        {**base, "id": str(uuid.uuid4()), "reaction": "satisfied"},  # a reaction without an answer
        {**base, "id": str(uuid.uuid4()), "content": "Có \u0000 ký tự lạ"},
    ]
    r = client.post("/api/v1/petitions", json={"petitions": items}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["invalid", "invalid", "invalid", "invalid", "created"]
    assert session.exec(select(Petition)).one().content == "Có  ký tự lạ"


@pytest.mark.parametrize(
    ("answered", "reaction", "reopened", "status"),
    [
        (None, None, False, "received"),
        (None, None, True, "reopened"),
        ("2027-01-04T10:00:00+07:00", None, False, "answered"),
        ("2027-01-04T10:00:00+07:00", "not_satisfied", False, "closed"),
        ("2027-01-04T10:00:00+07:00", "not_satisfied", True, "closed"),
    ],
)
def test_an_imported_outcome_sets_the_status(
    client: TestClient,
    session: Session,
    tree: dict[str, Unit],
    answered: str | None,
    reaction: str | None,
    reopened: bool,
    status: str,
) -> None:
    _, key = create_api_key(session=session, kind="visits", unit=tree["root"])
    item = petition_item(
        "P-OTHER",
        answered=answered,
        category="staff",
        received_at="2026-12-30T09:00:00+07:00",
        reaction=reaction,
        reopened=reopened,
    )
    pid = item["id"]
    auth = {"Authorization": f"Bearer {key}"}
    assert (
        client.post("/api/v1/petitions", json={"petitions": [item]}, headers=auth).json()["results"][0]["status"]
        == "created"
    )
    got = client.get(f"/api/v1/petitions/{pid}", headers=auth).json()
    assert (got["status"], got["reaction"], got["reopened"], got["unit"]) == (status, reaction, reopened, "P-OTHER")


def test_petition_links_are_redacted_from_logs() -> None:
    from server.hardening import redact_path

    assert (
        redact_path('"GET /pakn/Ab3_-xYz0123456789abcdEF?lang=en HTTP/1.1" 200') == '"GET /pakn/…?lang=en HTTP/1.1" 200'
    )
