"""`hailong targets ...` and `hailong rollup rebuild`, run as real processes."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from server.db import make_engine, session_scope
from tests import factories
from tests.databases import DatabaseFactory
from tests.test_cli import one_line_error, run

HCM = ZoneInfo("Asia/Ho_Chi_Minh")


def test_targets_list_and_set(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    listed = run("targets", "list", url=url)
    assert listed.returncode == 0, listed.stderr
    assert "lci                2025  0.8 (80 %)" in listed.stdout
    changed = run("targets", "set", "--group", "lci", "--year", "2025", "--threshold", "0.82", url=url)
    assert changed.returncode == 0, changed.stderr
    assert changed.stdout.strip() == "target lci from 2025: 0.82 (was 0.8)"
    added = run("targets", "set", "--group", "all", "--year", "2028", "--threshold", "0.93", url=url)
    assert added.stdout.strip() == "target all from 2028: 0.93 (new)"
    listed = run("targets", "list", url=url).stdout
    assert "lci                2025  0.82 (82 %)" in listed and "all                2028  0.93 (93 %)" in listed


def test_targets_set_refuses_bad_input(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    for args, message in [
        (("--group", "lci", "--year", "2025", "--threshold", "80"), "threshold must be a fraction above 0"),
        (("--group", "land", "--year", "2025", "--threshold", "0.8"), "unknown target group 'land'; known groups"),
        (("--group", "lci", "--year", "2025", "--threshold", "high"), "Invalid value for '--threshold'"),
    ]:
        assert message in one_line_error(run("targets", "set", *args, url=url)), args
    assert "0.8 (80 %)" in run("targets", "list", url=url).stdout  # nothing changed


def test_rollup_rebuild_reports_what_it_fixed(db_factory: DatabaseFactory) -> None:
    url = db_factory.new_url()
    engine = make_engine(url)
    with session_scope(engine) as session:
        u = factories.unit(session, code="CLI1")
        c = factories.counter(session, u, code="CLI1-Q1")
        for level in (4, 4, 2):
            factories.rating(session, c, level=level, at=datetime(2026, 2, 3, 9, tzinfo=HCM), reasons=("late",))
    clean = run("rollup", "rebuild", url=url)
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip() == "checked 1 month, 3 ratings: the rollups match the ratings, nothing to fix"

    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM rating_rollup WHERE level = 4"))
        conn.execute(sa.text("UPDATE rating_reason_month_rollup SET n = 9"))
    engine.dispose()
    fixed = run("rollup", "rebuild", url=url)
    assert fixed.returncode == 0, fixed.stderr
    lines = fixed.stdout.strip().splitlines()
    assert lines == [
        "rating_rollup unit=CLI1 day=2026-02-03 counter=CLI1-Q1 field=land officer=- channel=kiosk level=4 "
        "satisfied=yes misuse=no: 0 → 2 (+2)",
        "rating_reason_month_rollup month=2026-02-01 unit=CLI1 field=land reason=late: 9 → 3 (-6)",
        "rating_rollup: 1 key fixed (+2 / -0 counted)",
        "rating_reason_month_rollup: 1 key fixed (+0 / -6 counted)",
        "checked 1 month, 3 ratings: 2 keys differed and were fixed",
    ]
    again = run("rollup", "rebuild", url=url)
    assert "nothing to fix" in again.stdout
