"""Administration: the reference data and accounts an administrator edits. Every change is audited by the routes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from server.auth.service import hash_password
from server.auth.sessions import end_user_sessions
from server.db import utcnow
from server.errors import Conflict, Invalid, NotFound
from server.indices.periods import MAX_YEAR, MIN_YEAR
from server.messages import Message
from server.models import (
    ApiKey,
    AuditLog,
    Counter,
    CounterField,
    FieldGroup,
    KioskDevice,
    Officer,
    PairingCode,
    ProcedureField,
    Target,
    TargetGroup,
    Unit,
    User,
)
from server.units.service import MAX_DEPTH, create_unit, get_unit, move_unit

#: What `check_code` / `check_name` check, in their messages.
UNIT = Message("unit")
OFFICER = Message("officer")

#: Pairing codes: unambiguous characters (no 0/O, 1/I/L), 10 of them ≈ 50 bits, single-use, short-lived.
AUDIT_PAGE = 50


# --- units, counters, officers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TreeNode:
    """A unit with its children, for the tree view."""

    unit: Unit
    children: list[TreeNode]
    counters: int


def unit_tree(*, session: Session, q: str = "") -> list[TreeNode]:
    """Every unit as a forest (roots first, children by code); with `q`, only the units whose code or name
    contains it (any case) and their ancestors. Built iteratively, so any depth renders."""
    units = session.exec(select(Unit).order_by(col(Unit.code))).all()
    counts = dict(
        session.execute(sa.select(col(Counter.unit_id), sa.func.count()).group_by(col(Counter.unit_id))).all()
    )
    needle = q.strip().casefold()
    if needle:
        matching = [u for u in units if needle in u.code.casefold() or needle in u.name.casefold()]
        keep = {int(i) for u in matching for i in u.path.strip("/").split("/") if i}
        units = [u for u in units if u.id in keep]
    by_parent: dict[int | None, list[Unit]] = {}
    for u in units:
        by_parent.setdefault(u.parent_id, []).append(u)
    nodes = {u.id: TreeNode(u, [], int(counts.get(u.id, 0))) for u in units}
    for u in units:
        nodes[u.id].children.extend(nodes[c.id] for c in by_parent.get(u.id, []))
    present = set(nodes)
    return [nodes[u.id] for u in units if u.parent_id is None or u.parent_id not in present]


def unit_choices(*, session: Session) -> list[tuple[Unit, int]]:
    """Every unit with its depth, in tree order (parents before their children, siblings by code), for the lists
    admin forms choose unit codes from."""
    out: list[tuple[Unit, int]] = []
    stack = [(node, 0) for node in reversed(unit_tree(session=session))]
    while stack:
        node, depth = stack.pop()
        out.append((node.unit, depth))
        stack.extend((child, depth + 1) for child in reversed(node.children))
    return out


def update_unit(
    *, session: Session, unit_id: int, name: str, level: str, parent_code: str, active: bool
) -> tuple[Unit, bool]:
    """Rename a unit, set its level and whether it is active, and move it (with its subtree) under another parent
    (none: a root); returns the unit and whether it moved."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unknown unit {unit_id}", unit_id=unit_id)
    unit.name = check_name(name, UNIT)
    unit.level = level.strip()[:64]
    unit.active = active
    parent = get_unit(session=session, code=parent_code.strip()) if parent_code.strip() else None
    moved = unit.parent_id != (parent.id if parent else None)
    if moved:
        depth = (parent.path.count("/") - 1 if parent else 0) + max(
            p.count("/") - unit.path.count("/") + 1
            for p in session.exec(select(Unit.path).where(col(Unit.path).like(unit.path + "%"))).all()
        )
        if depth > MAX_DEPTH:
            raise Invalid("unit {code!r} would be more than {depth} levels deep", code=unit.code, depth=MAX_DEPTH)
        move_unit(session=session, unit=unit, new_parent=parent)
    session.flush()
    return unit, moved


def check_code(code: str, what: Message) -> str:
    """A code: 1-64 characters, no spaces."""
    code = code.strip()
    if not code or len(code) > 64 or any(c.isspace() for c in code):
        raise Invalid("{what} code must be 1-64 characters without spaces", what=what)
    return code


def check_name(name: str, what: Message) -> str:
    """A name: 1-255 characters."""
    name = name.strip()
    if not name or len(name) > 255:
        raise Invalid("{what} name must be 1-255 characters", what=what)
    return name


def add_unit(*, session: Session, code: str, name: str, parent_code: str, level: str) -> Unit:
    """A new unit under an existing parent (or a new root)."""
    code = check_code(code, UNIT)
    name = check_name(name, UNIT)
    if session.exec(select(Unit).where(Unit.code == code)).first() is not None:
        raise Conflict("unit {code!r} exists already", code=code)
    parent = get_unit(session=session, code=parent_code.strip()) if parent_code.strip() else None
    return create_unit(session=session, code=code, name=name, parent=parent, level=level.strip()[:64])


COUNTER_PAGE = 100
#: Up to this many counters the pairing form offers them in a list; with more, the counter code is typed.
COUNTER_CHOICES = 500


def counter_choices(*, session: Session, limit: int = COUNTER_CHOICES) -> list[tuple[Counter, Unit]] | None:
    """Every counter with its unit for a list to choose from, or None when there are more than `limit` (a page
    listing 200,000 counters would weigh tens of megabytes)."""
    rows = session.execute(
        sa.select(Counter, Unit)
        .join(Unit, col(Unit.id) == Counter.unit_id)
        .order_by(col(Unit.code), col(Counter.code))
        .limit(limit + 1)
    ).all()
    return None if len(rows) > limit else [(c, u) for c, u in rows]


T = TypeVar("T")


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of a long admin list (of the rows matching `q`)."""

    rows: list[T]
    page: int
    pages: int
    total: int
    q: str


def _search_counters(query: Any, q: str) -> Any:
    """`query` (joined with Counter and Unit) kept to rows whose counter code, counter name or unit code holds `q`."""
    if not q:
        return query
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return query.where(
        sa.or_(
            col(Counter.code).ilike(pattern, escape="\\"),
            col(Counter.name).ilike(pattern, escape="\\"),
            col(Unit.code).ilike(pattern, escape="\\"),
        )
    )


def _page_of(
    session: Session, query: Any, *, order: list[Any], page: int, size: int
) -> tuple[list[Any], int, int, int]:
    """Rows of `query` on `page` (clamped to the pages there are), the page, how many pages and rows in all."""
    total = int(session.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one())
    pages = max(1, -(-total // size))
    page = min(max(1, page), pages)
    rows = session.execute(query.order_by(*order).offset((page - 1) * size).limit(size)).all()
    return list(rows), page, pages, total


CounterPage = Listing[tuple[Counter, Unit]]


def counter_page(*, session: Session, page: int = 1, q: str = "", size: int = COUNTER_PAGE) -> CounterPage:
    """Counters by unit and code, `size` a page; `q` keeps those whose code, name or unit code contains it."""
    q = q.strip()
    query = _search_counters(sa.select(Counter, Unit).join(Unit, col(Unit.id) == Counter.unit_id), q)
    rows, page, pages, total = _page_of(session, query, order=[col(Unit.code), col(Counter.code)], page=page, size=size)
    return Listing([(c, u) for c, u in rows], page, pages, total, q)


def get_counter(*, session: Session, code: str) -> Counter:
    """The counter with this code, or 404."""
    counter = session.exec(select(Counter).where(Counter.code == code)).first()
    if counter is None:
        raise NotFound("unknown counter {code!r}", code=code)
    return counter


def officers(*, session: Session) -> list[tuple[Officer, Unit]]:
    """Every officer with their unit."""
    rows = session.execute(
        sa.select(Officer, Unit).join(Unit, col(Unit.id) == Officer.unit_id).order_by(col(Unit.code), col(Officer.code))
    ).all()
    return [(o, u) for o, u in rows]


def get_officer(*, session: Session, code: str) -> Officer:
    """The officer with this code, or 404."""
    officer = session.exec(select(Officer).where(Officer.code == code)).first()
    if officer is None:
        raise NotFound("unknown officer {code!r}", code=code)
    return officer


def add_officer(*, session: Session, code: str, name: str, unit_code: str) -> Officer:
    """A new officer of a unit."""
    code = check_code(code, OFFICER)
    name = check_name(name, OFFICER)
    if session.exec(select(Officer).where(Officer.code == code)).first() is not None:
        raise Conflict("officer {code!r} exists already", code=code)
    officer = Officer(code=code, name=name, unit_id=get_unit(session=session, code=unit_code.strip()).id)  # type: ignore[arg-type]
    session.add(officer)
    session.flush()
    return officer


# --- fields and targets -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldView:
    """A procedure field with the codes of its target groups."""

    field: ProcedureField
    groups: set[str]


def fields(*, session: Session) -> list[FieldView]:
    """Every procedure field with its groups."""
    groups = {g.id: g.code for g in session.exec(select(TargetGroup)).all()}
    links: dict[int, set[str]] = {}
    for link in session.exec(select(FieldGroup)).all():
        links.setdefault(link.field_id, set()).add(groups[link.group_id])
    rows = session.exec(select(ProcedureField).order_by(col(ProcedureField.sort_order), col(ProcedureField.code))).all()
    return [FieldView(f, links.get(int(f.id or 0), set())) for f in rows]


def target_groups(*, session: Session) -> list[TargetGroup]:
    """The target groups (`all` first)."""
    rows = session.exec(select(TargetGroup)).all()
    return sorted(rows, key=lambda g: (g.code != "all", g.code))


def update_field(
    *, session: Session, code: str, name_vi: str, name_en: str, groups: list[str], active: bool
) -> ProcedureField:
    """Rename a field, set its target groups (`all` is implicit) and whether citizens can pick it."""
    row = session.exec(select(ProcedureField).where(ProcedureField.code == code)).first()
    if row is None:
        raise NotFound("unknown field {code!r}", code=code)
    row.name_vi = check_name(name_vi, Message("Vietnamese"))
    row.name_en = check_name(name_en, Message("English"))
    row.active = active
    known = {g.code: g for g in session.exec(select(TargetGroup)).all()}
    wanted = {g for g in groups if g and g != "all"}
    unknown = wanted - known.keys()
    if unknown:
        raise Invalid("unknown target group {group!r}", group=sorted(unknown)[0])
    session.execute(sa.delete(FieldGroup).where(col(FieldGroup.field_id) == row.id))
    for g in sorted(wanted):
        session.add(FieldGroup(field_id=row.id, group_id=known[g].id))  # type: ignore[arg-type]
    session.flush()
    return row


def milestones(*, session: Session) -> list[tuple[TargetGroup, list[Target]]]:
    """Each group's milestones, oldest first."""
    out = []
    for group in target_groups(session=session):
        rows = session.exec(select(Target).where(Target.group_id == group.id).order_by(col(Target.year_from))).all()
        out.append((group, list(rows)))
    return out


def parse_percent(text: str) -> float:
    """`90`, `90,5`, `90.5` or `90.5%` → 0.905; 422 outside 0..100."""
    cleaned = text.strip().rstrip("%").strip().replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise Invalid("threshold {text!r} is not a number of percent (e.g. 90 or 92,5)", text=text) from None
    if not 0 <= value <= 100:
        raise Invalid("threshold must be between 0 and 100 %")
    return round(value / 100, 6)


def parse_year(text: str) -> int:
    """A milestone year between 2000 and 2100."""
    try:
        year = int(text.strip())
    except ValueError:
        raise Invalid("year {text!r} is not a year", text=text) from None
    if not 2000 <= year <= 2100:
        raise Invalid("year must be between 2000 and 2100")
    return year


def set_milestone(*, session: Session, group_code: str, year_from: str, threshold: str) -> Target:
    """Add or change a group's milestone for a year."""
    group = session.exec(select(TargetGroup).where(TargetGroup.code == group_code)).first()
    if group is None:
        raise NotFound("unknown target group {group!r}", group=group_code)
    year, value = parse_year(year_from), parse_percent(threshold)
    row = session.exec(select(Target).where(Target.group_id == group.id, Target.year_from == year)).first()
    if row is None:
        row = Target(group_id=group.id, year_from=year, threshold=value)  # type: ignore[arg-type]
        session.add(row)
    else:
        row.threshold = value
    session.flush()
    return row


def delete_milestone(*, session: Session, group_code: str, year_from: str) -> None:
    """Remove a group's milestone."""
    group = session.exec(select(TargetGroup).where(TargetGroup.code == group_code)).first()
    year = parse_year(year_from)
    row = (
        session.exec(select(Target).where(Target.group_id == group.id, Target.year_from == year)).first()
        if group
        else None
    )
    if row is None:
        raise NotFound("no milestone {group!r} from {year}", group=group_code, year=year)
    session.delete(row)
    session.flush()


# --- users ---------------------------------------------------------------------------------------------------------


def users(*, session: Session) -> list[tuple[User, Unit | None]]:
    """Every login with its unit."""
    rows = session.execute(
        sa.select(User, Unit).join(Unit, col(Unit.id) == User.unit_id, isouter=True).order_by(col(User.username))
    ).all()
    return [(u, unit) for u, unit in rows]


def get_user(*, session: Session, user_id: int) -> User:
    """The user with this id, or 404."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("unknown user {user_id}", user_id=user_id)
    return user


def set_active(*, session: Session, user: User, active: bool) -> None:
    """Deactivate (and log out everywhere) or reactivate a login."""
    user.active = active
    if not active:
        end_user_sessions(session=session, user=user)
    session.flush()


def reset_password(*, session: Session, user: User, password: str, hashed_password: str | None = None) -> None:
    """Give a user a new password and end their sessions (`hashed_password`: its `hash_password`, computed before
    the transaction)."""
    user.password_hash = hashed_password or hash_password(password)
    end_user_sessions(session=session, user=user)
    session.flush()


# --- kiosks and API keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceView:
    """A kiosk device with its counter and unit."""

    device: KioskDevice
    counter: Counter
    unit: Unit


#: Kiosks a page of /admin/kiosks: every re-pairing leaves a revoked device behind, so the list only grows.
DEVICE_PAGE = 100


def device_page(*, session: Session, page: int = 1, q: str = "", size: int = DEVICE_PAGE) -> Listing[DeviceView]:
    """Paired kiosks (live first, then by unit and counter), `size` a page; `q` keeps those whose counter code,
    counter name or unit code contains it."""
    q = q.strip()
    query = _search_counters(
        sa.select(KioskDevice, Counter, Unit)
        .join(Counter, col(Counter.id) == KioskDevice.counter_id)
        .join(Unit, col(Unit.id) == Counter.unit_id),
        q,
    )
    order = [col(KioskDevice.revoked_at).is_not(None), col(Unit.code), col(Counter.code), col(KioskDevice.id)]
    rows, page, pages, total = _page_of(session, query, order=order, page=page, size=size)
    return Listing([DeviceView(d, c, u) for d, c, u in rows], page, pages, total, q)


def open_pairing_codes(*, session: Session, now: datetime | None = None) -> list[tuple[PairingCode, Counter]]:
    """Unused, unexpired pairing codes (their codes are not known any more: only when and for which counter)."""
    now = now or utcnow()
    rows = session.execute(
        sa.select(PairingCode, Counter)
        .join(Counter, col(Counter.id) == PairingCode.counter_id)
        .where(col(PairingCode.used_at).is_(None), col(PairingCode.expires_at) > now)
        .order_by(col(PairingCode.created_at).desc())
    ).all()
    return [(p, c) for p, c in rows]


def get_device(*, session: Session, device_id: int) -> DeviceView:
    """A kiosk device with its counter and unit, or 404."""
    row = session.execute(
        sa.select(KioskDevice, Counter, Unit)
        .join(Counter, col(Counter.id) == KioskDevice.counter_id)
        .join(Unit, col(Unit.id) == Counter.unit_id)
        .where(col(KioskDevice.id) == device_id)
    ).first()
    if row is None:
        raise NotFound("unknown kiosk device {device_id}", device_id=device_id)
    return DeviceView(row[0], row[1], row[2])


def revoke_device(*, session: Session, device_id: int) -> KioskDevice:
    """Stop accepting a kiosk's token (its ratings stay)."""
    return _revoke(session, get_device(session=session, device_id=device_id).device)


def api_keys(*, session: Session) -> list[tuple[ApiKey, Unit]]:
    """Every API key (live first) with its unit."""
    rows = session.execute(
        sa.select(ApiKey, Unit)
        .join(Unit, col(Unit.id) == ApiKey.unit_id)
        .order_by(col(ApiKey.revoked_at).is_not(None), col(ApiKey.created_at).desc())
    ).all()
    return [(k, u) for k, u in rows]


def get_api_key(*, session: Session, key_id: int) -> tuple[ApiKey, Unit]:
    """An API key with its unit, or 404."""
    row = session.execute(
        sa.select(ApiKey, Unit).join(Unit, col(Unit.id) == ApiKey.unit_id).where(col(ApiKey.id) == key_id)
    ).first()
    if row is None:
        raise NotFound("unknown API key {key_id}", key_id=key_id)
    return row[0], row[1]


def revoke_api_key(*, session: Session, key_id: int) -> ApiKey:
    """Stop accepting an API key."""
    key, _unit = get_api_key(session=session, key_id=key_id)
    return _revoke(session, key)


#: What `_revoke` revokes: a kiosk's token or an API key.
_Credential = TypeVar("_Credential", KioskDevice, ApiKey)


def _revoke(session: Session, credential: _Credential) -> _Credential:
    """Mark a kiosk's token or an API key revoked now; one revoked already keeps its first revocation time."""
    if credential.revoked_at is None:
        credential.revoked_at = utcnow()
        session.flush()
    return credential


# --- audit log -----------------------------------------------------------------------------------------------------


#: What each audited action means (Vietnamese source text; the English catalog translates it). An action not
#: listed (added elsewhere later) is shown by its code.
ACTION_NAMES = {
    "login": "Đăng nhập",
    "login.failed": "Đăng nhập sai",
    "login.throttled": "Đăng nhập bị chặn tạm thời",
    "logout": "Đăng xuất",
    "visit.create": "Đăng ký lượt tiếp nhận",
    "export.csv": "Xuất báo cáo CSV",
    "export.xlsx": "Xuất báo cáo Excel",
    "export.pdf": "Xuất báo cáo PDF",
    "apikey.create": "Tạo khoá API",
    "kiosk.pairing_code": "Cấp mã ghép nối",
    "kiosk.revoke": "Thu hồi màn hình",
    "target.set": "Đặt chỉ tiêu",
    "admin.unit.create": "Thêm đơn vị",
    "admin.unit.update": "Sửa thông tin đơn vị",
    "admin.unit.move": "Chuyển đơn vị",
    "admin.units.import": "Nhập danh sách đơn vị",
    "admin.counters.import": "Nhập danh sách quầy",
    "admin.field.update": "Sửa lĩnh vực",
    "admin.target.set": "Đặt chỉ tiêu",
    "admin.target.delete": "Xoá mốc chỉ tiêu",
    "admin.officer.create": "Thêm cán bộ",
    "admin.officer.active": "Đổi trạng thái cán bộ",
    "admin.user.create": "Tạo tài khoản",
    "admin.user.active": "Đổi trạng thái tài khoản",
    "admin.user.password": "Đặt lại mật khẩu",
    "admin.kiosk.pairing_code": "Cấp mã ghép nối",
    "admin.kiosk.revoke": "Thu hồi màn hình",
    "admin.apikey.create": "Tạo khoá API",
    "admin.apikey.revoke": "Thu hồi khoá API",
    "admin.counter.fields": "Chọn lĩnh vực của quầy",
    "admin.public.unit": "Đổi phạm vi công khai",
    "admin.public.min_sample": "Đặt cỡ mẫu tối thiểu để công khai",
    "appraisal.view": "Xem kết quả đánh giá cán bộ",
    "appraisal.me": "Cán bộ xem kết quả của mình",
    "appraisal.read": "Đọc kết quả đánh giá cán bộ qua API",
    "appraisal.xlsx": "Xuất đánh giá cán bộ Excel",
    "appraisal.pdf": "Xuất đánh giá cán bộ PDF",
    "petition.create": "Tiếp nhận phản ánh, kiến nghị",
    "petition.assign": "Giao xử lý phản ánh",
    "petition.classify": "Phân loại phản ánh",
    "petition.answer": "Trả lời phản ánh",
    "petition.react": "Người dân phản hồi câu trả lời",
    "petition.close": "Đóng phản ánh",
    "petition.contact_view": "Xem liên hệ của người phản ánh",
    "petition.import_update": "Cập nhật phản ánh từ hệ thống khác",
    "petition.purge": "Xoá liên hệ hết hạn lưu",
    "notify.preferences": "Đổi tuỳ chọn nhận thông báo",
    "notify.addresses": "Đặt địa chỉ nhận thông báo",
}


@dataclass(frozen=True)
class AuditFilter:
    """The audit log's filters: who, which action, which local days (inclusive)."""

    actor: str = ""
    action: str = ""
    date_from: date | None = None
    date_to: date | None = None

    def query(self, page: int) -> str:
        """The query string of this filter at `page`."""
        params = {
            "actor": self.actor,
            "action": self.action,
            "date_from": self.date_from.isoformat() if self.date_from else "",
            "date_to": self.date_to.isoformat() if self.date_to else "",
        }
        return urlencode({**{k: v for k, v in params.items() if v}, "page": page})


@dataclass(frozen=True)
class AuditPage:
    """One page of the (filtered) audit log and the choices of its filters."""

    rows: list[AuditLog]
    page: int
    has_next: bool
    filter: AuditFilter
    actors: list[str]
    actions: list[str]


def parse_day(text: str, what: Message) -> date | None:
    """A filter's `YYYY-MM-DD` (empty: no bound)."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid("{what} {text!r} is not a date (YYYY-MM-DD)", what=what, text=text) from None
    if not MIN_YEAR <= day.year <= MAX_YEAR:  # 9999-12-31 + 1 day overflowed into a 500
        raise Invalid(
            "{what} {text!r}: years from {low} to {high} only", what=what, text=text, low=MIN_YEAR, high=MAX_YEAR
        )
    return day


def audit_page(
    *, session: Session, page: int, tz: ZoneInfo, filter: AuditFilter | None = None, size: int = AUDIT_PAGE
) -> AuditPage:
    """One page of the audit log, newest first, filtered by actor, action and local days."""
    page = max(1, page)
    f = filter or AuditFilter()
    if f.date_from and f.date_to and f.date_to < f.date_from:
        raise Invalid("the end date is before the start date")
    query = select(AuditLog)
    if f.actor:
        query = query.where(AuditLog.actor == f.actor)
    if f.action:
        query = query.where(AuditLog.action == f.action)
    if f.date_from:
        query = query.where(col(AuditLog.at) >= datetime.combine(f.date_from, time(), tz))
    if f.date_to:
        query = query.where(col(AuditLog.at) < datetime.combine(f.date_to + timedelta(days=1), time(), tz))
    rows = session.exec(
        query.order_by(col(AuditLog.at).desc(), col(AuditLog.id).desc()).offset((page - 1) * size).limit(size + 1)
    ).all()
    actors = sorted(session.exec(select(AuditLog.actor).distinct()).all())
    present = set(session.exec(select(AuditLog.action).distinct()).all())
    actions = sorted(present | set(ACTION_NAMES), key=lambda a: (a not in present, a))
    return AuditPage(list(rows[:size]), page, len(rows) > size, f, actors, actions)


def counter_fields(*, session: Session, counter_ids: list[int]) -> dict[int, list[ProcedureField]]:
    """The fields chosen for each of these counters (a counter missing here serves every active field)."""
    rows = session.execute(
        sa.select(CounterField.counter_id, ProcedureField)  # type: ignore[call-overload]
        .join(ProcedureField, col(ProcedureField.id) == CounterField.field_id)
        .where(col(CounterField.counter_id).in_(counter_ids))
        .order_by(col(ProcedureField.sort_order), col(ProcedureField.code))
    ).all()
    chosen: dict[int, list[ProcedureField]] = {}
    for counter_id, field in rows:
        chosen.setdefault(counter_id, []).append(field)
    return chosen


def set_counter_fields(*, session: Session, counter: Counter, codes: list[str]) -> list[str]:
    """Choose the fields a counter serves (none: every active field); unknown or inactive codes are 422.
    Answers the codes now chosen."""
    wanted = sorted({c.strip() for c in codes if c.strip()})
    found = {
        f.code: f
        for f in session.exec(select(ProcedureField).where(col(ProcedureField.code).in_(wanted))).all()
        if f.active
    }
    missing = [c for c in wanted if c not in found]
    if missing:
        raise Invalid("unknown or inactive field {code!r}", code=missing[0])
    for link in session.exec(select(CounterField).where(CounterField.counter_id == counter.id)).all():
        session.delete(link)
    session.flush()
    for code in wanted:
        session.add(CounterField(counter_id=counter.id, field_id=found[code].id))  # type: ignore[arg-type]
    session.flush()
    return wanted


def find_counter(*, session: Session, code: str) -> Counter | None:
    """The counter with this code, if any."""
    return session.exec(select(Counter).where(Counter.code == code)).first()
