"""After "invite": where the invitation stands (shown on the kiosk, rated, declined), cancelling it, the field kept
for the next invitation, the recent list, and the menu between the console and "my results"."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from server.models import Counter, Officer, Unit, Visit
from tests import factories, logins

HX = {"HX-Request": "true"}


@pytest.fixture
def desk(session: Session) -> tuple[Unit, Counter, Officer]:
    unit = factories.unit(session, name="Bộ phận Một cửa xã Ea Kao")
    return unit, factories.counter(session, unit, code="Q-01"), factories.officer(session, unit)


def invite(client: TestClient, csrf: str, field: str = "tax") -> str:
    response = client.post(
        "/console/visits", data={"counter": "Q-01", "field": field}, headers={**HX, "X-CSRF-Token": csrf}
    )
    assert response.status_code == 201, response.text
    assert 'data-visit-state="waiting"' in response.text and 'hx-swap-oob="true"' in response.text
    token = response.text.split("/console/visits/")[1].split("/")[0]
    return token


def test_the_console_follows_an_invitation_until_it_is_rated(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, counter, officer = desk
    csrf = logins.login(client, logins.user(session, "officer", unit, officer=officer))
    token = invite(client, csrf)
    visit = session.exec(select(Visit).where(Visit.token == token)).one()
    status = client.get(f"/console/visits/{token}/status", headers=HX).text
    assert "chưa có màn hình đánh giá" in status  # no kiosk paired at this counter: the QR code it is
    assert 'hx-trigger="every 2s"' in status and "Huỷ lời mời" in status
    factories.kiosk_device(session, counter)
    status = client.get(f"/console/visits/{token}/status", headers=HX).text
    assert "Đang chờ màn hình tại quầy hiển thị" in status
    # Nothing changed since the last look: nothing to swap (no flicker, no repeated announcement).
    assert client.get(f"/console/visits/{token}/status?seen=waiting", headers=HX).status_code == 204

    visit.shown_at = datetime.now(UTC)  # what the kiosk reports (tested with the kiosk endpoints)
    session.add(visit)
    session.flush()
    shown = client.get(f"/console/visits/{token}/status?seen=waiting", headers=HX)
    assert shown.status_code == 200 and 'data-visit-state="shown"' in shown.text
    assert 'data-recent-state="shown"' in shown.text  # the recent list, refreshed out of band

    factories.rating(session, counter, channel="kiosk").visit_id = visit.id
    visit.rated_at = datetime.now(UTC)
    session.add(visit)
    session.flush()
    rated = client.get(f"/console/visits/{token}/status?seen=shown", headers=HX).text
    assert "Người dân đã đánh giá." in rated and "hx-trigger" not in rated.split("</div>")[0]  # polling stops
    assert "Huỷ lời mời" not in rated and 'data-recent-state="rated"' in rated
    refused = client.post(f"/console/visits/{token}/cancel", headers={**HX, "X-CSRF-Token": csrf})
    assert refused.status_code == 409 and "không thể huỷ" in refused.text


def test_cancel_an_invitation(client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]) -> None:
    unit, _, officer = desk
    csrf = logins.login(client, logins.user(session, "officer", unit, officer=officer))
    token = invite(client, csrf)
    assert client.post(f"/console/visits/{token}/cancel", headers=HX).status_code == 403  # CSRF
    cancelled = client.post(f"/console/visits/{token}/cancel", headers={**HX, "X-CSRF-Token": csrf})
    assert cancelled.status_code == 200 and 'data-visit-state="cancelled"' in cancelled.text
    visit = session.exec(select(Visit).where(Visit.token == token)).one()
    session.refresh(visit)
    assert visit.cancelled_at is not None and visit.expires_at <= datetime.now(UTC)
    assert client.get(f"/r/{token}").status_code == 410  # the slip's link no longer works
    # Without JavaScript: the form posts and comes back to the console.
    other = invite(client, csrf)
    plain = client.post(f"/console/visits/{other}/cancel", data={"csrf_token": csrf}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"] == "/console"
    # Another unit's visit is unknown here.
    stranger = factories.counter_visit(session, factories.counter(session, factories.unit(session)))
    assert client.get(f"/console/visits/{stranger.token}/status", headers=HX).status_code == 404
    assert (
        client.post(f"/console/visits/{stranger.token}/cancel", headers={**HX, "X-CSRF-Token": csrf}).status_code == 404
    )


def test_the_field_is_kept_for_the_next_invitation(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, officer = desk
    csrf = logins.login(client, logins.user(session, "officer", unit, officer=officer))
    assert 'value="justice" selected' not in client.get("/console").text
    invite(client, csrf, field="justice")
    page = client.get("/console").text
    assert '<option value="justice" selected>' in page
    assert page.count(" selected>") == 2  # the counter and the field


def test_a_menu_between_the_console_and_my_results(
    client: TestClient, session: Session, desk: tuple[Unit, Counter, Officer]
) -> None:
    unit, _, officer = desk
    logins.login(client, logins.user(session, "officer", unit, officer=officer))
    console = client.get("/console").text
    assert '<a href="/console" aria-current="page">Mời đánh giá</a>' in console
    assert '<a href="/dashboard/me">Kết quả của tôi</a>' in console
    mine = client.get("/dashboard/me").text
    assert '<a href="/console">Mời đánh giá</a>' in mine
    assert 'href="/dashboard/me" aria-current="page"' in mine
