"""One rating per visit under real concurrency: 50 phones submit the same link at once to a real server."""

from __future__ import annotations

import re
import threading
from collections import Counter as Tally

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

from server.app import create_app
from server.db import make_engine
from server.models import Rating, Visit
from tests import factories
from tests.browser.conftest import serve
from tests.conftest import make_settings
from tests.databases import DatabaseFactory
from tests.server.visits import factories as vf

SUBMISSIONS = 50


def test_fifty_simultaneous_submissions_store_exactly_one_rating(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            counter = factories.counter(session, factories.unit(session))
            token = vf.visit(session, counter).token
            session.commit()
        app = create_app(make_settings(url, db_pool_size=SUBMISSIONS))
        statuses: list[int] = []
        errors: list[BaseException] = []
        ready = threading.Barrier(SUBMISSIONS)
        lock = threading.Lock()

        def phone(base: str, level: int) -> None:
            try:
                with httpx.Client(base_url=base, timeout=120) as client:
                    form = client.get(f"/r/{token}")
                    assert form.status_code == 200, form.status_code
                    match = re.search(r'name="csrf" value="([^"]+)"', form.text)
                    assert match
                    ready.wait(timeout=60)
                    response = client.post(f"/r/{token}", data={"csrf": match.group(1), "level": str(level)})
                    with lock:
                        statuses.append(response.status_code)
            except BaseException as exc:  # collected and reported by the main thread
                ready.abort()
                with lock:
                    errors.append(exc)

        with serve(app) as base:
            threads = [threading.Thread(target=phone, args=(base, 1 + i % 4)) for i in range(SUBMISSIONS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=180)
        assert errors == []
        assert Tally(statuses) == {303: 1, 409: SUBMISSIONS - 1}
        with Session(engine) as session:
            visit = session.exec(select(Visit).where(Visit.token == token)).one()
            ratings = session.exec(select(Rating).where(Rating.visit_id == visit.id)).all()
            assert len(ratings) == 1 and ratings[0].channel == "phone"
            assert visit.rated_at == ratings[0].rated_at
            assert session.exec(select(sa.func.count()).select_from(Rating)).one() == 1
    finally:
        engine.dispose()
