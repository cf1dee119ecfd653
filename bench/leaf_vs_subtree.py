"""Issue 20's question: do reports read from the leaf month rollups, summed along the unit paths at read time, meet
the targets that the subtree month rollups (and the packed months) were built for?

    .venv/bin/python -m bench.leaf_vs_subtree --database hl_leaf   # a database kept by `bench.indices --keep`

Measures, on the same data and connection, each report read both ways (`source="rollup"`: the subtree rollups and,
for one month on PostgreSQL, the packed months; `source="leaf"`: the leaf month rollups of every unit of the
subtree, folded into ancestors) after checking that both give the same figures: the national month matrix (every
unit × field, with and without reasons), and `compute_indices` for the nation and for one province (overall, by
field, by unit, the 12-month trend): what the dashboard, the exports and the public page read.
"""

from __future__ import annotations

import argparse
import gc
import os

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlmodel import Session, col

from bench.indices import HCM, REPORT_MONTH, summary, timed
from server.config import normalise_database_url
from server.dashboard.service import trend_period
from server.db import make_engine
from server.indices.matrix import unit_field_matrix
from server.indices.periods import parse_period
from server.indices.service import compute_indices
from server.models import Unit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", default="hl_leaf")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    admin = normalise_database_url(
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    url = make_url(admin).set(database=args.database).render_as_string(hide_password=False)
    engine = make_engine(url)
    period = parse_period(REPORT_MONTH)
    trend = trend_period(period)
    gc.collect()
    gc.freeze()
    with engine.connect() as conn, Session(bind=conn) as session:
        pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        conn.rollback()
        nation = session.execute(sa.select(Unit).where(col(Unit.code) == "VN")).scalar_one()
        province = (
            session.execute(sa.select(Unit).where(col(Unit.parent_id) == nation.id).order_by(col(Unit.code)))
            .scalars()
            .first()
        )
        assert province is not None
        for reasons in (True, False):

            def matrix(source: str, reasons: bool = reasons) -> object:
                m = unit_field_matrix(session=session, unit=nation, period=period, source=source, reasons=reasons)  # type: ignore[arg-type]
                session.rollback()
                return m

            a, b = matrix("rollup"), matrix("leaf")
            assert a.cells == b.cells, "leaf and subtree matrices differ"  # type: ignore[attr-defined]
            for source in ("rollup", "leaf"):
                t = timed(lambda source=source: matrix(source), repeat=args.repeat, warmup=2, backend_pid=pid)
                print(f"| national matrix, {'with' if reasons else 'without'} reasons | {source} | {summary(t)} |")
        for unit, who in ((nation, "nation"), (province, f"province {province.code}")):
            for by, span in ((None, period), ("field", period), ("unit", period), ("month", trend)):

                def report(source: str, by: str | None = by, span=span, unit: Unit = unit) -> object:
                    r = compute_indices(
                        session=session, unit=unit, period=span, by=by, min_sample=30, tz=HCM, source=source
                    )  # type: ignore[arg-type]
                    session.rollback()
                    return r

                assert report("rollup") == report("leaf"), f"{who} by={by}: leaf and subtree differ"
                for source in ("rollup", "leaf"):
                    t = timed(lambda source=source: report(source), repeat=args.repeat, warmup=2, backend_pid=pid)
                    print(f"| {who}, compute_indices by={by or 'overall'} ({span.code}) | {source} | {summary(t)} |")
    engine.dispose()


if __name__ == "__main__":
    main()
