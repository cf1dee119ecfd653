"""A small province for dashboard, export, admin and scoping tests: two sibling units A and B under one root.

B's name, comments and contacts carry the marker `BSECRET`, so a test can tell whether a page leaked B's data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session

from server.auth.service import create_api_key
from server.auth.service import hash_token as _hash
from server.db import utcnow
from server.models import ApiKey, Counter, KioskDevice, Officer, Rating, Unit, User, Visit
from server.units.service import create_unit
from tests import factories, logins
from tests.server.visits import factories as visit_factories

B_MARKER = "BSECRET"
OCT = datetime(2026, 10, 1, 9, 0, tzinfo=factories.HCM)


@dataclass
class World:
    root: Unit
    a: Unit
    a1: Unit
    a2: Unit
    b: Unit
    b1: Unit
    counter_a1: Counter
    counter_b: Counter
    officer_a1: Officer
    officer_b: Officer
    kiosk_a1: KioskDevice
    kiosk_b: KioskDevice
    admin: User
    manager_a: User
    manager_b: User
    officer_user: User
    key_a: ApiKey
    key_a_token: str
    key_b: ApiKey
    key_b_token: str
    b_rating: Rating
    visit_b: Visit


def _ratings(
    session: Session,
    counter: Counter,
    officer: Officer,
    spec: list[tuple[int, str, int]],
    start: datetime = OCT,
) -> list[Rating]:
    out = []
    i = 0
    for level, field_code, count in spec:
        for _ in range(count):
            out.append(
                factories.rating(
                    session,
                    counter,
                    level=level,
                    field_code=field_code,
                    at=start + timedelta(hours=7 * i),
                    officer_=officer,
                    reasons=("late",) if level <= 2 else (),
                )
            )
            i += 1
    return out


def build_world(session: Session) -> World:
    """Units, counters, officers, kiosks, users, read keys and October 2026 ratings."""
    root = create_unit(session=session, code="W-ROOT", name="Tỉnh thử nghiệm")
    a = create_unit(session=session, code="W-A", name="Khu vực A", parent=root)
    a1 = create_unit(session=session, code="W-A1", name="Xã A1", parent=a)
    a2 = create_unit(session=session, code="W-A2", name="Xã A2", parent=a)
    b = create_unit(session=session, code="W-B", name=f"Khu vực B {B_MARKER}-UNIT", parent=root)
    b1 = create_unit(session=session, code="W-B1", name=f"Xã B1 {B_MARKER}-CHILD", parent=b)
    counter_a1 = factories.counter(session, a1, code="W-A1-Q1")
    counter_a2 = factories.counter(session, a2, code="W-A2-Q1")
    counter_b = factories.counter(session, b1, code="W-B1-Q1")
    officer_a1 = factories.officer(session, a1, code="W-A1-CB1")
    officer_a2 = factories.officer(session, a2, code="W-A2-CB1")
    officer_b = factories.officer(session, b1, code="W-B1-CB1")

    # A1: 40 valid ratings (34 satisfied) — enough to rank; A2: 5 — too few; B1: 40 with comments.
    _ratings(session, counter_a1, officer_a1, [(4, "land", 20), (3, "justice", 14), (2, "land", 4), (1, "land", 2)])
    _ratings(session, counter_a2, officer_a2, [(4, "justice", 4), (1, "justice", 1)])
    b_ratings = _ratings(session, counter_b, officer_b, [(4, "land", 30), (1, "land", 10)])
    factories.rating(session, counter_a1, level=4, at=OCT + timedelta(days=3), misuse=True)

    unhappy_a = factories.rating(session, counter_a1, level=1, field_code="land", at=OCT + timedelta(days=20))
    unhappy_a.comment = "Chờ quá lâu <script>alert('xss')</script>"
    unhappy_a.contact = "0912 345 678"
    unhappy_a.contact_consent = True
    no_consent = factories.rating(session, counter_a1, level=2, field_code="justice", at=OCT + timedelta(days=21))
    no_consent.comment = "Hướng dẫn chưa rõ"
    no_consent.contact = "0999 000 111 NO-CONSENT"
    no_consent.contact_consent = False
    b_rating = b_ratings[-1]
    b_rating.comment = f"{B_MARKER}-COMMENT trả kết quả trễ"
    b_rating.contact = f"{B_MARKER}-CONTACT 0909"
    b_rating.contact_consent = True
    session.flush()

    now = utcnow()
    kiosk_a1 = KioskDevice(counter_id=counter_a1.id, token_hash=_hash("kiosk-a1"), last_seen_at=now, backlog=3)  # type: ignore[arg-type]
    kiosk_b = KioskDevice(counter_id=counter_b.id, token_hash=_hash("kiosk-b"), last_seen_at=now, backlog=7)  # type: ignore[arg-type]
    session.add_all([kiosk_a1, kiosk_b])
    session.flush()

    admin = logins.user(session, "admin", None, username="w-admin")
    manager_a = logins.user(session, "manager", a, username="w-manager-a")
    manager_b = logins.user(session, "manager", b, username=f"w-manager-{B_MARKER.lower()}")
    officer_user = logins.user(session, "officer", a1, username="w-officer", officer=officer_a1)
    key_a, key_a_token = create_api_key(session=session, kind="read", unit=a, label="A reader")
    key_b, key_b_token = create_api_key(session=session, kind="read", unit=b, label=f"{B_MARKER}-KEY")
    # Its slip names B's units; B's manager registered it, so the slip page is theirs to open.
    visit_b = visit_factories.visit(session, counter_b, officer=officer_b, created_by=manager_b)
    return World(
        root=root,
        a=a,
        a1=a1,
        a2=a2,
        b=b,
        b1=b1,
        counter_a1=counter_a1,
        counter_b=counter_b,
        officer_a1=officer_a1,
        officer_b=officer_b,
        kiosk_a1=kiosk_a1,
        kiosk_b=kiosk_b,
        admin=admin,
        manager_a=manager_a,
        manager_b=manager_b,
        officer_user=officer_user,
        key_a=key_a,
        key_a_token=key_a_token,
        key_b=key_b,
        key_b_token=key_b_token,
        b_rating=b_rating,
        visit_b=visit_b,
    )
