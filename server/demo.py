"""Demo data: a province centre, commune desks, counters, officers and about a year of ratings.

Deterministic for a given seed and end month. The reference data (fields, groups, targets, scale, reasons) comes
from the migrations, not from here.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from server.models import Counter, Officer, ProcedureField, Rating, RatingReason, Reason, ScaleLevel, Unit, Visit
from server.units.service import create_unit

# (code, name, parent, level label, base satisfaction, ratings per month)
DEMO_UNITS: list[tuple[str, str, str | None, str, float, int]] = [
    ("DLK", "Trung tâm Phục vụ hành chính công tỉnh Đắk Lắk", None, "tỉnh", 0.93, 420),
    ("KV-TAY", "Khu vực phía Tây", "DLK", "khu vực", 0.0, 0),
    ("KV-DONG", "Khu vực phía Đông (Phú Yên cũ)", "DLK", "khu vực", 0.0, 0),
    ("BMT", "Bộ phận Một cửa phường Buôn Ma Thuột", "KV-TAY", "phường", 0.95, 260),
    ("TANAN", "Bộ phận Một cửa phường Tân An", "KV-TAY", "phường", 0.91, 160),
    ("EAKAR", "Bộ phận Một cửa xã Ea Kar", "KV-TAY", "xã", 0.84, 140),
    ("KRONGPAC", "Bộ phận Một cửa xã Krông Pắc", "KV-TAY", "xã", 0.88, 120),
    ("EASUP", "Bộ phận Một cửa xã Ea Súp", "KV-TAY", "xã", 0.79, 90),
    ("LAK", "Bộ phận Một cửa xã Lắk", "KV-TAY", "xã", 0.90, 2),
    ("BUONHO", "Bộ phận Một cửa phường Buôn Hồ", "KV-TAY", "phường", 0.92, 110),
    ("TUYHOA", "Bộ phận Một cửa phường Tuy Hòa", "KV-DONG", "phường", 0.94, 200),
    ("SONGHINH", "Bộ phận Một cửa xã Sông Hinh", "KV-DONG", "xã", 0.86, 70),
    ("DONGHOA", "Bộ phận Một cửa phường Đông Hòa", "KV-DONG", "phường", 0.89, 100),
]

# A field's offset to its unit's base satisfaction and its share of visits.
FIELD_PROFILE: dict[str, tuple[float, float]] = {
    "land": (-0.10, 0.22),
    "construction": (-0.07, 0.08),
    "investment": (-0.03, 0.03),
    "business": (0.01, 0.08),
    "labour_social": (0.02, 0.09),
    "justice": (0.04, 0.20),
    "certification": (0.05, 0.16),
    "tax": (-0.02, 0.04),
    "transport": (0.00, 0.04),
    "agriculture_environment": (-0.01, 0.03),
    "health": (0.00, 0.01),
    "education": (0.02, 0.01),
    "other": (0.00, 0.01),
}

REASON_WEIGHTS = {
    "late": 5,
    "extra_documents": 4,
    "waiting": 4,
    "guidance": 3,
    "attitude": 2,
    "facilities": 2,
    "fees": 1,
    "other": 1,
}

COMMENTS = [
    "Hồ sơ đất đai trả trễ hẹn hai lần, đi lại nhiều lần rất mất thời gian.",
    "Cán bộ hướng dẫn chưa rõ, phải bổ sung giấy tờ nhiều lần.",
    "Chờ đợi quá lâu, không có ghế ngồi cho người già.",
    "Mong bộ phận một cửa trả kết quả đúng hẹn.",
    "Máy lấy số thứ tự bị hỏng, không biết lúc nào đến lượt.",
    "Phải nộp thêm bản sao mà lần trước không được báo.",
]

OFFICER_NAMES = [
    "Nguyễn Thị Hương",
    "Trần Văn Đức",
    "Lê Thị Mỹ Duyên",
    "Phạm Quốc Việt",
    "Hoàng Thị Ánh",
    "Y Blông Niê",
    "H'Hen Ê Ban",
    "Võ Minh Khôi",
    "Đặng Thị Thuỷ",
    "Bùi Văn Sơn",
]


@dataclass(frozen=True)
class DemoSummary:
    users: list[tuple[str, str, str]]
    units: int
    counters: int
    officers: int
    ratings: int
    visits: int


def month_starts(end_month: date, months: int) -> list[date]:
    """The first days of the `months` months ending with `end_month`, oldest first."""
    y, m = end_month.year, end_month.month
    out = []
    for _ in range(months):
        out.append(date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out[::-1]


def seed_demo(
    *,
    session: Session,
    seed: int = 1,
    end_month: date,
    months: int = 12,
    tz: ZoneInfo,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DemoSummary:
    """Add demo units, counters, officers, visits and ratings (reference data must already be migrated)."""
    rng = random.Random(seed)
    now = now or datetime.now(UTC)
    fields = {f.code: f for f in session.exec(select(ProcedureField)).all()}
    reasons = {r.code: r for r in session.exec(select(Reason)).all()}
    scale = {s.level: s for s in session.exec(select(ScaleLevel)).all()}
    missing = [c for c in FIELD_PROFILE if c not in fields]
    if missing or not reasons or not scale:
        raise RuntimeError("reference data is missing; run `hailong db upgrade` first")

    units: dict[str, Unit] = {}
    for code, name, parent, level_label, _, _ in DEMO_UNITS:
        units[code] = create_unit(
            session=session, code=code, name=name, parent=units.get(parent or ""), level=level_label
        )

    counters: dict[str, list[Counter]] = {}
    officers: dict[str, list[Officer]] = {}
    name_iter = iter(OFFICER_NAMES * 10)
    for code, _, _, _, _, per_month in DEMO_UNITS:
        if per_month == 0:
            continue
        n_counters = 4 if code == "DLK" else 2
        counters[code] = []
        officers[code] = []
        for i in range(1, n_counters + 1):
            counter = Counter(code=f"{code}-Q{i:02d}", unit_id=units[code].id, name=f"Quầy số {i}")  # type: ignore[arg-type]
            officer = Officer(code=f"{code}-CB{i:02d}", name=next(name_iter), unit_id=units[code].id)  # type: ignore[arg-type]
            session.add_all([counter, officer])
            counters[code].append(counter)
            officers[code].append(officer)
    session.flush()

    field_codes = list(FIELD_PROFILE)
    field_weights = [FIELD_PROFILE[c][1] for c in field_codes]
    reason_codes = list(REASON_WEIGHTS)
    reason_weights = list(REASON_WEIGHTS.values())
    starts = month_starts(end_month, months)
    today_local = now.astimezone(tz).date()
    rating_rows: list[dict[str, object]] = []
    reason_rows: list[dict[str, object]] = []
    visit_rows: list[dict[str, object]] = []
    total_units = sum(1 for u in DEMO_UNITS if u[5] > 0)
    done = 0
    for code, _, _, _, base, per_month in DEMO_UNITS:
        if per_month == 0:
            continue
        unit = units[code]
        for month_index, start in enumerate(starts):
            trend = 0.025 * (month_index / max(1, months - 1)) - 0.012  # units improve over the year
            n = max(0, round(per_month * rng.uniform(0.8, 1.2)))
            next_month = date(start.year + start.month // 12, start.month % 12 + 1, 1)
            days = (min(next_month, today_local + timedelta(days=1)) - start).days
            if days <= 0:
                continue
            for _ in range(n):
                local_day = start + timedelta(days=rng.randrange(days))
                local_time = datetime(
                    local_day.year,
                    local_day.month,
                    local_day.day,
                    rng.randint(7, 16),
                    rng.randrange(60),
                    rng.randrange(60),
                    tzinfo=tz,
                )
                rated_at = local_time.astimezone(UTC)
                if rated_at > now:
                    continue
                field_code = rng.choices(field_codes, field_weights)[0]
                p = min(0.995, max(0.2, base + FIELD_PROFILE[field_code][0] + trend))
                satisfied = rng.random() < p
                level = (4 if rng.random() < 0.55 else 3) if satisfied else (2 if rng.random() < 0.6 else 1)
                counter = rng.choice(counters[code])
                officer = rng.choice(officers[code])
                channel = "phone" if rng.random() < 0.2 else "kiosk"
                misuse = channel == "kiosk" and rng.random() < 0.01
                rating_id = uuid.UUID(int=rng.getrandbits(128), version=4)
                visit_id = None
                comment = None
                if channel == "phone":
                    visit_id = len(visit_rows) + 1
                    created = rated_at - timedelta(hours=rng.randint(1, 72))
                    visit_rows.append(
                        dict(
                            id=visit_id,
                            token=f"demo{visit_id:012d}",
                            counter_id=counter.id,
                            field_id=fields[field_code].id,
                            officer_id=officer.id,
                            created_at=created,
                            expires_at=created + timedelta(days=30),
                            rated_at=rated_at,
                        )
                    )
                    if not satisfied and rng.random() < 0.5:
                        comment = rng.choice(COMMENTS)
                rating_rows.append(
                    dict(
                        id=rating_id,
                        level=level,
                        satisfied=scale[level].satisfied,
                        field_id=fields[field_code].id,
                        unit_id=unit.id,
                        counter_id=counter.id,
                        officer_id=officer.id,
                        visit_id=visit_id,
                        channel=channel,
                        comment=comment,
                        contact=None,
                        contact_consent=False,
                        rated_at=rated_at,
                        client_rated_at=rated_at,
                        local_date=local_day,
                        received_at=rated_at,
                        device_id=None,
                        misuse=misuse,
                        misuse_reason="demo" if misuse else None,
                    )
                )
                if not scale[level].satisfied and rng.random() < 0.8:
                    picked = set(rng.choices(reason_codes, reason_weights, k=rng.randint(1, 2)))
                    if field_code in ("land", "construction") and rng.random() < 0.5:
                        picked.add("late")
                    reason_rows.extend(dict(rating_id=rating_id, reason_id=reasons[c].id) for c in sorted(picked))
        done += 1
        if progress:
            progress(done, total_units)

    # Unrated visits registered by the one-stop system, so response rates are below 100 %.
    for code, counter_list in counters.items():
        for start in starts:
            for _ in range(rng.randint(3, 12)):
                created = datetime(start.year, start.month, rng.randint(1, 28), 9, 0, tzinfo=tz).astimezone(UTC)
                if created > now:
                    continue
                vid = len(visit_rows) + 1
                visit_rows.append(
                    dict(
                        id=vid,
                        token=f"demo{vid:012d}",
                        counter_id=rng.choice(counter_list).id,
                        field_id=fields[rng.choices(field_codes, field_weights)[0]].id,
                        officer_id=rng.choice(officers[code]).id,
                        created_at=created,
                        expires_at=created + timedelta(days=30),
                        rated_at=None,
                    )
                )
    offset = session.exec(sa.select(sa.func.coalesce(sa.func.max(Visit.id), 0))).one()[0]  # type: ignore[call-overload]
    for row in visit_rows:
        row["id"] = int(row["id"]) + int(offset)  # type: ignore[call-overload]
        row["token"] = f"demo{row['id']:012d}"
    for row in rating_rows:
        if row["visit_id"] is not None:
            row["visit_id"] = int(row["visit_id"]) + int(offset)  # type: ignore[call-overload]
    _insert_chunks(session, Visit, visit_rows)
    _insert_chunks(session, Rating, rating_rows)
    _insert_chunks(session, RatingReason, reason_rows)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(sa.text("SELECT setval(pg_get_serial_sequence('visit', 'id'), (SELECT max(id) FROM visit))"))
    session.flush()
    from server.dossiers.demo import seed_demo_dossiers  # late: the demo's own data first

    seed_demo_dossiers(
        session=session,
        seed=seed,
        units={code: (n, base) for code, _, _, _, base, n in DEMO_UNITS if n > 0},
        starts=starts,
        tz=tz,
        now=now,
    )
    users = _demo_users(session=session, units=units, officers=officers)
    return DemoSummary(
        users=users,
        units=len(units),
        counters=sum(len(c) for c in counters.values()),
        officers=sum(len(o) for o in officers.values()),
        ratings=len(rating_rows),
        visits=len(visit_rows),
    )


#: Demo logins (username, role, unit code, officer code): printed by `hailong seed-demo`, never in production.
DEMO_PASSWORD = "hailong-demo"
DEMO_USERS = [
    ("admin", "admin", None, None),
    ("quanly", "manager", "DLK", None),
    ("quanly-bmt", "manager", "BMT", None),
    ("canbo", "officer", "BMT", "BMT-CB01"),
]


def _demo_users(
    *, session: Session, units: dict[str, Unit], officers: dict[str, list[Officer]]
) -> list[tuple[str, str, str]]:
    from server.auth.service import create_user  # late import: argon2 only when demo users are made

    made = []
    for username, role, unit_code, officer_code in DEMO_USERS:
        officer = next((o for o in officers.get(unit_code or "", []) if o.code == officer_code), None)
        create_user(
            session=session,
            username=username,
            password=DEMO_PASSWORD,
            role=role,
            unit=units[unit_code] if unit_code else None,
            officer=officer,
        )
        made.append((username, role, unit_code or "toàn tỉnh"))
    return made


def _insert_chunks(session: Session, model: type, rows: list[dict[str, object]], size: int = 5000) -> None:
    for i in range(0, len(rows), size):
        session.execute(sa.insert(model), rows[i : i + size])
