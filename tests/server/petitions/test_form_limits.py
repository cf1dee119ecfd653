"""The public form `/gop-y` limits what succeeds: a few filings per address within the window (each one queues
messages to managers), then a friendly 429 page that creates nothing; and a form's nonce files one petition only."""

from __future__ import annotations

import re

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from server.config import Settings
from server.models import Notification, Petition
from tests import factories, logins


def _from(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 50000))


def _count(session: Session) -> int:
    return session.exec(select(func.count()).select_from(Petition)).one()


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no csrf field"
    return match.group(1)


def _file(citizen: TestClient, content: str, *, path: str = "/gop-y") -> object:
    form = citizen.get("/gop-y")
    assert form.status_code == 200
    data = {"csrf": _csrf(form.text), "unit": "PF-WARD", "category": "tthc", "content": content}
    return citizen.post(path, data=data, follow_redirects=False)


def test_the_sixth_filing_from_one_address_is_refused_and_another_address_still_files(
    app: FastAPI, session: Session, settings: Settings
) -> None:
    ward = factories.unit(session, code="PF-WARD", name="Phường Một")
    logins.user(session, "manager", ward)  # someone to tell: each filing queues a message
    assert settings.petition_form_limit == 5 and settings.petition_form_window_seconds == 3600
    citizen = _from(app, "203.0.113.7")
    for i in range(5):
        filed = _file(citizen, f"Phản ánh số {i + 1}")
        assert filed.status_code == 303 and filed.headers["location"].startswith("/pakn/"), filed.text  # type: ignore[attr-defined]
    messages = session.exec(select(func.count()).select_from(Notification)).one()

    sixth = _file(citizen, "Phản ánh số 6")
    assert sixth.status_code == 429  # type: ignore[attr-defined]
    assert "Đã nhận nhiều phản ánh từ mạng này" in sixth.text  # type: ignore[attr-defined]
    assert 0 < int(sixth.headers["retry-after"]) <= 3600  # type: ignore[attr-defined]
    english = _file(citizen, "Phản ánh số 6", path="/gop-y?lang=en")
    assert english.status_code == 429 and "Many petitions have come from this network" in english.text  # type: ignore[attr-defined]
    assert _count(session) == 5  # the refused filings created nothing, and told no one
    assert session.exec(select(func.count()).select_from(Notification)).one() == messages

    neighbour = _from(app, "203.0.113.8")
    assert _file(neighbour, "Phản ánh của người khác").status_code == 303  # type: ignore[attr-defined]
    assert _count(session) == 6


def test_a_form_files_one_petition_however_often_it_is_sent(app: FastAPI, session: Session) -> None:
    factories.unit(session, code="PF-WARD", name="Phường Một")
    citizen = _from(app, "203.0.113.9")
    form = citizen.get("/gop-y")
    nonce, csrf = citizen.cookies.get("hl_gopy"), _csrf(form.text)
    data = {"csrf": csrf, "unit": "PF-WARD", "category": "tthc", "content": "Hồ sơ bị chậm"}
    first = citizen.post("/gop-y", data=data, follow_redirects=False)
    assert first.status_code == 303
    assert citizen.cookies.get("hl_gopy") not in (None, nonce)  # the answer hands out a fresh nonce

    # The same form again (a second click, or a robot replaying the cookie and token): its petition, nothing new.
    replay = TestClient(app, client=("203.0.113.9", 50000), cookies={"hl_gopy": nonce})  # type: ignore[dict-item]
    again = replay.post("/gop-y", data={**data, "content": "Lần nữa"}, follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == first.headers["location"]
    assert _count(session) == 1
    # A reloaded form with the spent nonce gets a new one, and files.
    reloaded = replay.get("/gop-y")
    fresh = re.search(r"hl_gopy=([^;]+)", reloaded.headers["set-cookie"])
    assert fresh and fresh.group(1) != nonce and _csrf(reloaded.text) != csrf
    browser = TestClient(app, client=("203.0.113.9", 50000), cookies={"hl_gopy": fresh.group(1)})
    assert (
        browser.post("/gop-y", data={**data, "csrf": _csrf(reloaded.text)}, follow_redirects=False).status_code == 303
    )
    assert _count(session) == 2
