"""Rig-proof visits (issue 18): an officer registers visits only in their own name and never sees a visit's token
that is not theirs; every visit records who registered it."""

from __future__ import annotations

from datetime import timedelta

from bs4 import BeautifulSoup
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.db import utcnow
from server.models import Visit
from tests import factories, logins
from tests.server.visits import factories as vf


def _desk(session: Session) -> tuple[object, object, object, object]:
    root = factories.unit(session)
    desk = factories.unit(session, root)
    counter = factories.counter(session, desk, code="Q-RIG")
    me = factories.officer(session, desk, code="CB-ME")
    colleague = factories.officer(session, desk, code="CB-COLLEAGUE")
    return root, desk, counter, (me, colleague)


def test_an_officer_session_naming_a_colleague_is_403_and_stores_nothing(client: TestClient, session: Session) -> None:
    _root, desk, _counter, (me, colleague) = _desk(session)
    user = logins.user(session, "officer", desk, officer=me)
    csrf = logins.login(client, user)
    headers = {"X-CSRF-Token": csrf}
    body = {"counter": "Q-RIG", "field": "land", "officer": colleague.code}
    response = client.post("/api/v1/visits", json=body, headers=headers)
    assert response.status_code == 403
    assert response.json() == {"detail": "an officer may register visits only in their own name"}
    assert session.exec(select(Visit)).all() == []
    # Naming oneself, or nobody, is the officer's own visit, recorded as such.
    for officer_field in ({"officer": me.code}, {}):
        created = client.post(
            "/api/v1/visits", json={"counter": "Q-RIG", "field": "land", **officer_field}, headers=headers
        )
        assert created.status_code == 201, created.text
        visit = session.exec(select(Visit).where(Visit.token == created.json()["token"])).one()
        assert (visit.officer_id, visit.created_by_kind, visit.created_by_user_id, visit.created_by_key_id) == (
            me.id,
            "officer_session",
            user.id,
            None,
        )


def test_an_officer_session_learns_nothing_about_other_officer_codes(client: TestClient, session: Session) -> None:
    """Any code but the session's own is the same 403: unknown, inactive, another unit's or a colleague's (a 422 for
    some of them would tell which codes exist)."""
    root, desk, _counter, (me, colleague) = _desk(session)
    retired = factories.officer(session, desk, code="CB-RETIRED")
    retired.active = False
    elsewhere = factories.officer(session, factories.unit(session, root), code="CB-ELSEWHERE")
    session.flush()
    csrf = logins.login(client, logins.user(session, "officer", desk, officer=me))
    for named in ("CB-NOBODY", retired.code, elsewhere.code, colleague.code):
        body = {"counter": "Q-RIG", "field": "land", "officer": named}
        response = client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": csrf})
        assert response.status_code == 403, (named, response.text)
        assert response.json() == {"detail": "an officer may register visits only in their own name"}
    assert session.exec(select(Visit)).all() == []


def test_an_officer_account_without_an_officer_record_may_name_nobody(client: TestClient, session: Session) -> None:
    _root, desk, _counter, (_me, colleague) = _desk(session)
    csrf = logins.login(client, logins.user(session, "officer", desk))
    body = {"counter": "Q-RIG", "field": "land", "officer": colleague.code}
    assert client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": csrf}).status_code == 403


def test_managers_and_integration_keys_may_name_any_officer_of_their_subtree(
    client: TestClient, session: Session
) -> None:
    root, _desk_unit, _counter, (_me, colleague) = _desk(session)
    body = {"counter": "Q-RIG", "field": "land", "officer": colleague.code}
    key = vf.api_key(session, root)
    by_key = client.post("/api/v1/visits", json=body, headers={"Authorization": f"Bearer {key}"})
    assert by_key.status_code == 201
    keyed = session.exec(select(Visit).where(Visit.token == by_key.json()["token"])).one()
    assert keyed.officer_id == colleague.id and keyed.created_by_kind == "api_key"
    assert keyed.created_by_key_id is not None and keyed.created_by_user_id is None
    manager = logins.user(session, "manager", root)
    csrf = logins.login(client, manager)
    by_manager = client.post("/api/v1/visits", json=body, headers={"X-CSRF-Token": csrf})
    assert by_manager.status_code == 201
    managed = session.exec(select(Visit).where(Visit.token == by_manager.json()["token"])).one()
    assert (managed.officer_id, managed.created_by_kind, managed.created_by_user_id) == (
        colleague.id,
        "manager_session",
        manager.id,
    )


def test_the_console_shows_an_officer_only_their_own_visits(client: TestClient, session: Session) -> None:
    root, desk, counter, (me, colleague) = _desk(session)
    colleague_user = logins.user(session, "officer", desk, officer=colleague)
    theirs = vf.visit(session, counter, officer=colleague, created_by=colleague_user)  # type: ignore[arg-type]
    key = vf.api_key(session, root)
    one_stop = client.post(
        "/api/v1/visits", json={"counter": "Q-RIG", "field": "land"}, headers={"Authorization": f"Bearer {key}"}
    ).json()["token"]
    unrecorded = vf.visit(session, counter)  # type: ignore[arg-type]  # from before creators were recorded
    csrf = logins.login(client, logins.user(session, "officer", desk, officer=me))
    invited = client.post(
        "/console/visits", data={"csrf_token": csrf, "counter": "Q-RIG", "field": "land"}, follow_redirects=False
    )
    assert invited.status_code == 303
    mine = invited.headers["location"].rsplit("/", 1)[1]
    page = client.get("/console")
    assert page.status_code == 200
    visit = session.exec(select(Visit).where(Visit.token == mine)).one()
    assert f'href="/console/slips/{visit.id}"' in page.text and mine not in page.text
    for token in (theirs.token, one_stop, unrecorded.token):
        assert token not in page.text
        assert client.get(f"/console/visits/{token}").status_code == 404
    for other in session.exec(select(Visit).where(Visit.id != visit.id)).all():
        assert client.get(f"/console/slips/{other.id}").status_code == 404
    assert client.get(f"/console/visits/{mine}").status_code == 200
    assert client.get(f"/console/slips/{visit.id}").status_code == 200
    # The console's visit belongs to the logged-in officer and records the session that made it.
    assert (visit.officer_id, visit.created_by_kind) == (me.id, "officer_session")


def test_a_slip_is_shown_only_while_fresh_and_the_recent_list_never_holds_a_token(
    client: TestClient, session: Session
) -> None:
    """The slip (QR code, rating link) is for the citizen just invited: shown within HAILONG_SLIP_MINUTES (10) of
    the invitation and until the visit is rated. Later, or once rated, a friendly 410 without the token: an officer
    reopening it could rate a visit the citizen left unrated."""
    _root, desk, counter, (me, _colleague) = _desk(session)
    user = logins.user(session, "officer", desk, officer=me)
    fresh = vf.visit(session, counter, officer=me, created_by=user)  # type: ignore[arg-type]
    recent_enough = vf.visit(session, counter, officer=me, created_by=user)  # type: ignore[arg-type]
    recent_enough.created_at = utcnow() - timedelta(minutes=9)
    old = vf.visit(session, counter, officer=me, created_by=user)  # type: ignore[arg-type]
    old.created_at = utcnow() - timedelta(minutes=11)  # unrated, its link valid for 30 days: the citizen still may
    rated = vf.visit(session, counter, officer=me, created_by=user)  # type: ignore[arg-type]
    rated.rated_at = utcnow()
    cancelled = vf.visit(session, counter, officer=me, created_by=user)  # type: ignore[arg-type]
    cancelled.cancelled_at = utcnow()
    session.flush()
    logins.login(client, user)
    for shown in (fresh, recent_enough):
        for path in (f"/console/visits/{shown.token}", f"/console/slips/{shown.id}"):
            slip = client.get(path)
            assert slip.status_code == 200, path
            assert f'src="/api/v1/visits/{shown.token}/qr.svg"' in slip.text
            assert f'<span class="slip-token">{shown.token}</span>' in slip.text
    for closed in (old, rated, cancelled):
        for path in (f"/console/visits/{closed.token}", f"/console/slips/{closed.id}"):
            for headers in ({}, {"HX-Request": "true"}):
                gone = client.get(path, headers=headers)
                assert gone.status_code == 410, (path, headers)
                assert closed.token not in gone.text
                assert "phiếu chỉ hiển thị trong 10 phút sau khi mời đánh giá" in gone.text
            assert "Không thể hiển thị lại phiếu" in client.get(path).text
    english = client.get(f"/console/visits/{old.token}", params={"lang": "en"})
    assert "This slip can no longer be shown" in english.text and old.token not in english.text
    # The recent list: no token of any visit; a link (by id) only to the slips still open.
    page = client.get("/console", params={"lang": "vi"})
    assert page.status_code == 200
    for visit in (fresh, recent_enough, old, rated, cancelled):
        assert visit.token not in page.text
    links = {a["href"] for a in BeautifulSoup(page.text, "html.parser").select("#recent a")}
    assert links == {f"/console/slips/{fresh.id}", f"/console/slips/{recent_enough.id}"}
