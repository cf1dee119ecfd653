"""Administration pages (admin role). Forms carry the CSRF token; a rejected form is re-rendered with its error
(422); every change is written to the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from server.admin import service
from server.admin.forms import (
    ActiveForm,
    ApiKeyForm,
    ConfirmForm,
    CounterFieldsForm,
    FieldForm,
    OfficerForm,
    PairingCodeForm,
    PasswordForm,
    TargetDeleteForm,
    TargetForm,
    UnitCreateForm,
    UnitEditForm,
    UserCreateForm,
)
from server.auth.deps import AdminUser, require_admin, verify_csrf
from server.auth.service import audit, create_api_key, create_user, hash_password
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import AppError, NotFound
from server.i18n import request_language
from server.kiosks.service import create_pairing_code
from server.messages import Message
from server.models import API_KEY_KINDS, ROLES, Unit, User
from server.spreadsheet import XLSX_MEDIA_TYPE, csv_bytes, xlsx_bytes
from server.units.service import (
    COUNTER_COLUMNS,
    UNIT_COLUMNS,
    ImportResult,
    get_unit,
    import_counters,
    import_units,
)

router = APIRouter(
    prefix="/admin", include_in_schema=False, dependencies=[Depends(require_admin), Depends(verify_csrf)]
)

MAX_UPLOAD = 5 * 1024 * 1024
#: Messages after a successful change (Vietnamese source text); the redirect names one by its key only.
NOTICES = {
    "unit-created": "Đã thêm đơn vị.",
    "unit-saved": "Đã lưu đơn vị.",
    "units-imported": "Đã nhập danh sách đơn vị.",
    "counters-imported": "Đã nhập danh sách quầy.",
    "counter-fields-saved": "Đã lưu lĩnh vực của quầy.",
    "field-saved": "Đã lưu lĩnh vực.",
    "target-saved": "Đã lưu chỉ tiêu.",
    "target-deleted": "Đã xoá mốc chỉ tiêu.",
    "officer-created": "Đã thêm cán bộ.",
    "officer-saved": "Đã cập nhật cán bộ.",
    "user-created": "Đã tạo tài khoản.",
    "user-saved": "Đã cập nhật tài khoản.",
    "password-reset": "Đã đặt lại mật khẩu; các phiên đăng nhập cũ của tài khoản đã kết thúc.",
    "device-revoked": "Đã thu hồi màn hình.",
    "key-revoked": "Đã thu hồi khoá API.",
}
NoticeQuery = Annotated[str | None, Query(max_length=32)]
#: A long list's page (past the last page shows the last) and its search words.
PageQuery = Annotated[int, Query(ge=1, le=1_000_000)]
SearchQuery = Annotated[str, Query(max_length=64)]


def _audit(session: Session, request: Request, admin: User, action: str, target: str, detail: str = "") -> None:
    audit(session=session, actor=admin.username, action=action, target=target, detail=detail, ip=client_ip(request))


def _page(request: Request, name: str, context: dict[str, Any], status_code: int = 200) -> HTMLResponse:
    context.setdefault("error", None)
    if isinstance(context["error"], AppError):
        context["error"] = context["error"].in_language(request_language(request))  # the services' errors
    context.setdefault("form", {})
    context["notice"] = NOTICES.get(str(context.get("notice") or ""))
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, f"admin/{name}.html", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


#: The changes that ask first (Vietnamese source texts): section, title, question ({name}), consequence, button.
CONFIRMATIONS = {
    "user": (
        "users",
        "Vô hiệu hoá tài khoản",
        "Vô hiệu hoá tài khoản {name}?",
        "Người dùng bị đăng xuất ngay khỏi mọi phiên và không đăng nhập được nữa cho đến khi tài khoản được kích "
        "hoạt lại.",
        "Vô hiệu hoá",
    ),
    "kiosk": (
        "kiosks",
        "Thu hồi màn hình đánh giá",
        "Thu hồi màn hình của quầy {name}?",
        "Màn hình ngừng nhận đánh giá ngay và báo “ngừng phục vụ”; các đánh giá đã gửi vẫn được giữ. Muốn dùng "
        "lại phải cấp mã ghép nối mới.",
        "Thu hồi",
    ),
    "key": (
        "apikeys",
        "Thu hồi khoá API",
        "Thu hồi khoá API {name}?",
        "Hệ thống đang dùng khoá này bị từ chối ngay (401); không thể khôi phục khoá, chỉ có thể tạo khoá mới.",
        "Thu hồi",
    ),
}


def _confirm(request: Request, kind: str, name: str, hidden: dict[str, str] | None = None) -> HTMLResponse:
    """The page that asks before a change that cannot simply be undone (works without scripts): its form posts
    the same request again with `confirm=yes`; "Huỷ" goes back to the list."""
    section, title, question, consequence, button = CONFIRMATIONS[kind]
    context = {
        "section": section,
        "title": title,
        "question": question,
        "name": name,
        "consequence": consequence,
        "button": button,
        "action": request.url.path,
        "back": f"/admin/{section}",
        "hidden": hidden or {},
    }
    return _page(request, "confirm", context)


def _done(path: str, notice: str) -> RedirectResponse:
    return RedirectResponse(f"{path}?notice={notice}", status_code=303)


async def _read_upload(file: UploadFile) -> bytes:
    data = await file.read(MAX_UPLOAD + 1)
    if len(data) > MAX_UPLOAD:
        from server.errors import PayloadTooLarge

        raise PayloadTooLarge("the file is larger than 5 MB")
    return data


#: Downloadable import templates: the header and example lines of each import.
TEMPLATES: dict[str, tuple[tuple[str, ...], list[list[str]]]] = {
    "units": (UNIT_COLUMNS, [["DLK", "Trung tâm Phục vụ hành chính công tỉnh", "", "tỉnh"],
                             ["BMT", "Phường Buôn Ma Thuột", "DLK", "phường"]]),
    "counters": (COUNTER_COLUMNS, [["BMT-Q01", "BMT", "Quầy 1 - Đất đai"], ["BMT-Q02", "BMT", "Quầy 2 - Tư pháp"]]),
}  # fmt: skip


# Before the pages' own routes: `/admin/units/template.csv` is a template, not unit "template.csv".
@router.get("/{section}/template.{fmt}", response_class=Response)
def import_template(section: str, fmt: str, admin: AdminUser) -> Response:
    """An import template (CSV in UTF-8 with a BOM, or XLSX) with the header and two example lines."""
    if section not in TEMPLATES or fmt not in ("csv", "xlsx"):
        raise NotFound("no such import template")
    columns, examples = TEMPLATES[section]
    if fmt == "csv":
        data, media = csv_bytes([list(columns), *examples]), "text/csv; charset=utf-8"
    else:
        data, media = xlsx_bytes(section, [list(columns), *examples]), XLSX_MEDIA_TYPE
    name = f"hai-long_{section}_template.{fmt}"
    return Response(data, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("", response_class=HTMLResponse)
def admin_home(request: Request, admin: AdminUser) -> HTMLResponse:
    """The administration start page."""
    return _page(request, "index", {"section": "home"})


# --- units ---------------------------------------------------------------------------------------------------------


def _units_context(session: Session, notice: str | None = None, q: str = "") -> dict[str, Any]:
    return {
        "section": "units",
        "tree": service.unit_tree(session=session, q=q),
        "q": q.strip(),
        "unit_choices": service.unit_choices(session=session),
        "notice": notice,
    }


@router.get("/units", response_class=HTMLResponse)
def units_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: NoticeQuery = None,
    q: SearchQuery = "",
) -> HTMLResponse:
    """The unit tree (searchable by code or name; each unit opens its edit form), a form to add a unit, an import."""
    return _page(request, "units", _units_context(session, notice, q))


@router.post("/units", response_class=HTMLResponse)
def units_create(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[UnitCreateForm, Form()]
) -> Response:
    """Add a unit."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            unit = service.add_unit(
                session=session, code=form.unit_code, name=form.name, parent_code=form.parent_code, level=form.level
            )
    except AppError as exc:
        context = {**_units_context(session), "error": exc, "form": form.model_dump()}
        return _page(request, "units", context, 422)
    _audit(session, request, admin, "admin.unit.create", unit.code, f"parent={form.parent_code or '-'}")
    return _done("/admin/units", "unit-created")


@router.post("/units/import", response_class=HTMLResponse)
async def units_import(
    request: Request, session: SessionDep, admin: AdminUser, file: Annotated[UploadFile, File()]
) -> Response:
    """Create or update units from a CSV or XLSX file `code,name,parent_code,level` (all or nothing)."""
    return await _import_csv(request, session, admin, file, "units", import_units, _units_context)


# After `/units/import`: a unit's own page is `/units/<id>`.
def _unit_edit_context(session: Session, unit_id: int) -> dict[str, Any]:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unknown unit {unit_id}", unit_id=unit_id)
    parent = session.get(Unit, unit.parent_id) if unit.parent_id else None
    choices = [(u, depth) for u, depth in service.unit_choices(session=session) if not u.path.startswith(unit.path)]
    return {"section": "units", "unit": unit, "parent": parent, "unit_choices": choices}


@router.get("/units/{unit_id}", response_class=HTMLResponse)
def unit_edit_page(request: Request, session: SessionDep, admin: AdminUser, unit_id: int) -> HTMLResponse:
    """Edit a unit: name, level, active, and its parent (moving it with its whole subtree)."""
    return _page(request, "unit_edit", _unit_edit_context(session, unit_id))


@router.post("/units/{unit_id}", response_class=HTMLResponse)
def unit_edit(
    request: Request, session: SessionDep, admin: AdminUser, unit_id: int, form: Annotated[UnitEditForm, Form()]
) -> Response:
    """Save a unit; a new parent moves it with its subtree (the figures follow the current tree)."""
    context = _unit_edit_context(session, unit_id)
    old_parent = context["parent"].code if context["parent"] else "-"
    try:
        form.check(request_language(request))
        with session.begin_nested():
            unit, moved = service.update_unit(
                session=session,
                unit_id=unit_id,
                name=form.name,
                level=form.level,
                parent_code=form.parent_code,
                active=bool(form.active),
            )
    except AppError as exc:
        context = _unit_edit_context(session, unit_id)
        values = {**form.model_dump(), "active": bool(form.active)}
        return _page(request, "unit_edit", {**context, "error": exc, "form": values}, 422)
    _audit(session, request, admin, "admin.unit.update", unit.code, f"active={unit.active}")
    if moved:
        _audit(
            session, request, admin, "admin.unit.move", unit.code, f"{old_parent} → {form.parent_code.strip() or '-'}"
        )
    return _done("/admin/units", "unit-saved")


async def _import_csv(
    request: Request,
    session: Session,
    admin: User,
    file: UploadFile,
    section: str,
    importer: Callable[..., ImportResult],
    context: Callable[[Session], dict[str, Any]],
) -> Response:
    """Run an import (CSV or XLSX) in a savepoint: the page with the line-numbered error (422), or back."""
    data = await _read_upload(file)
    try:
        with session.begin_nested():
            result = importer(session=session, data=data)
    except AppError as exc:
        return _page(request, section, {**context(session), "error": exc}, 422)
    detail = f"{result.created} created, {result.updated} updated"
    _audit(session, request, admin, f"admin.{section}.import", file.filename or "", detail)
    return _done(f"/admin/{section}", f"{section}-imported")


# --- counters ------------------------------------------------------------------------------------------------------


def _counters_context(
    session: Session, notice: str | None = None, page: int = 1, q: str = "", edit: str | None = None
) -> dict[str, Any]:
    listing = service.counter_page(session=session, page=page, q=q)
    editing = service.find_counter(session=session, code=edit) if edit else None
    return {
        "section": "counters",
        "listing": listing,
        # Only the counters on this page, and the one being edited (a paged list of 200,000 needs no more).
        "counter_fields": service.counter_fields(
            session=session,
            counter_ids=[int(c.id or 0) for c, _ in listing.rows] + ([int(editing.id or 0)] if editing else []),
        ),
        "editing": editing,
        "all_fields": [f.field for f in service.fields(session=session) if f.field.active],
        "notice": notice,
    }


@router.get("/counters", response_class=HTMLResponse)
def counters_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: NoticeQuery = None,
    page: PageQuery = 1,
    q: SearchQuery = "",
    edit: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    """The counters, 100 a page (searchable by code, name or unit code), with the fields each serves, a form
    choosing them (`?edit=CODE`), and an import."""
    return _page(request, "counters", _counters_context(session, notice, page, q, edit))


@router.post("/counters/{code}/fields", response_class=HTMLResponse)
def counter_fields_save(
    code: str, request: Request, session: SessionDep, admin: AdminUser, form: Annotated[CounterFieldsForm, Form()]
) -> Response:
    """Choose the fields a counter serves: its kiosk asks the citizen for the field only when there are several
    (none chosen: every active field)."""
    counter = service.get_counter(session=session, code=code[:64])
    try:
        form.check(request_language(request))
        with session.begin_nested():
            chosen = service.set_counter_fields(session=session, counter=counter, codes=list(form.fields or [])[:200])
    except AppError as exc:
        return _page(request, "counters", {**_counters_context(session, edit=code), "error": exc}, 422)
    _audit(session, request, admin, "admin.counter.fields", counter.code, ",".join(chosen) or "all")
    return _done("/admin/counters", "counter-fields-saved")


@router.post("/counters/import", response_class=HTMLResponse)
async def counters_import(
    request: Request, session: SessionDep, admin: AdminUser, file: Annotated[UploadFile, File()]
) -> Response:
    """Create or update counters from a CSV or XLSX file `code,unit_code,name` (all or nothing)."""
    return await _import_csv(request, session, admin, file, "counters", import_counters, _counters_context)


# --- fields and targets --------------------------------------------------------------------------------------------


def _fields_context(session: Session, notice: str | None = None) -> dict[str, Any]:
    return {
        "section": "fields",
        "fields": service.fields(session=session),
        "groups": [g for g in service.target_groups(session=session) if g.code != "all"],
        "notice": notice,
    }


@router.get("/fields", response_class=HTMLResponse)
def fields_page(request: Request, session: SessionDep, admin: AdminUser, notice: NoticeQuery = None) -> HTMLResponse:
    """Procedure fields: names, target groups, whether citizens can pick them."""
    return _page(request, "fields", _fields_context(session, notice))


@router.post("/fields/{field_code}", response_class=HTMLResponse)
def fields_save(
    request: Request, session: SessionDep, admin: AdminUser, field_code: str, form: Annotated[FieldForm, Form()]
) -> Response:
    """Save a field's names, groups and active flag."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            service.update_field(
                session=session,
                code=field_code,
                name_vi=form.name_vi,
                name_en=form.name_en,
                groups=form.groups,
                active=bool(form.active),
            )
    except NotFound:
        raise
    except AppError as exc:
        context = {**_fields_context(session), "error": exc, "error_field": field_code}
        return _page(request, "fields", context, 422)
    _audit(
        session,
        request,
        admin,
        "admin.field.update",
        field_code,
        f"groups={','.join(sorted(form.groups))} active={bool(form.active)}",
    )
    return _done("/admin/fields", "field-saved")


def _targets_context(session: Session, notice: str | None = None) -> dict[str, Any]:
    return {"section": "targets", "milestones": service.milestones(session=session), "notice": notice}


@router.get("/targets", response_class=HTMLResponse)
def targets_page(request: Request, session: SessionDep, admin: AdminUser, notice: NoticeQuery = None) -> HTMLResponse:
    """The milestones of each target group."""
    return _page(request, "targets", _targets_context(session, notice))


@router.post("/targets", response_class=HTMLResponse)
def targets_save(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[TargetForm, Form()]
) -> Response:
    """Add or change a milestone."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            service.set_milestone(
                session=session, group_code=form.group_code, year_from=form.year_from, threshold=form.threshold
            )
    except AppError as exc:
        context = {**_targets_context(session), "error": exc, "form": form.model_dump()}
        return _page(request, "targets", context, 422)
    _audit(session, request, admin, "admin.target.set", form.group_code, f"from {form.year_from}: {form.threshold}")
    return _done("/admin/targets", "target-saved")


@router.post("/targets/delete", response_class=HTMLResponse)
def targets_delete(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[TargetDeleteForm, Form()]
) -> Response:
    """Remove a milestone."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            service.delete_milestone(session=session, group_code=form.group_code, year_from=form.year_from)
    except AppError as exc:
        return _page(request, "targets", {**_targets_context(session), "error": exc}, 422)
    _audit(session, request, admin, "admin.target.delete", form.group_code, f"from {form.year_from}")
    return _done("/admin/targets", "target-deleted")


# --- officers ------------------------------------------------------------------------------------------------------


def _officers_context(session: Session, notice: str | None = None) -> dict[str, Any]:
    return {
        "section": "officers",
        "officers": service.officers(session=session),
        "unit_choices": service.unit_choices(session=session),
        "notice": notice,
    }


@router.get("/officers", response_class=HTMLResponse)
def officers_page(request: Request, session: SessionDep, admin: AdminUser, notice: NoticeQuery = None) -> HTMLResponse:
    """Officers of every unit."""
    return _page(request, "officers", _officers_context(session, notice))


@router.post("/officers", response_class=HTMLResponse)
def officers_create(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[OfficerForm, Form()]
) -> Response:
    """Add an officer."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            officer = service.add_officer(
                session=session, code=form.officer_code, name=form.name, unit_code=form.unit_code
            )
    except AppError as exc:
        context = {**_officers_context(session), "error": exc, "form": form.model_dump()}
        return _page(request, "officers", context, 422)
    _audit(session, request, admin, "admin.officer.create", officer.code, f"unit={form.unit_code}")
    return _done("/admin/officers", "officer-created")


@router.post("/officers/{officer_code}/active", response_class=HTMLResponse)
def officers_active(
    request: Request, session: SessionDep, admin: AdminUser, officer_code: str, form: Annotated[ActiveForm, Form()]
) -> Response:
    """Activate or deactivate an officer."""
    form.check(request_language(request))
    officer = service.get_officer(session=session, code=officer_code)
    officer.active = bool(form.active)
    _audit(session, request, admin, "admin.officer.active", officer.code, f"active={officer.active}")
    return _done("/admin/officers", "officer-saved")


# --- users ---------------------------------------------------------------------------------------------------------


def _users_context(session: Session, notice: str | None = None) -> dict[str, Any]:
    return {
        "section": "users",
        "users": service.users(session=session),
        "roles": ROLES,
        "unit_choices": service.unit_choices(session=session),
        "notice": notice,
    }


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request, session: SessionDep, admin: AdminUser, notice: NoticeQuery = None) -> HTMLResponse:
    """Logins: create, deactivate, reset passwords."""
    return _page(request, "users", _users_context(session, notice))


def _hash_outside_transaction(session: Session, password: str) -> str:
    """End what the request did so far (the login check's reads, a session touch) and hash the new password with no
    transaction open: no lock (SQLite's write lock) nor connection is held for argon2's 0.3-0.6 s."""
    session.commit()
    return hash_password(password)


@router.post("/users", response_class=HTMLResponse)
def users_create(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[UserCreateForm, Form()]
) -> Response:
    """Create a login (password hashed with argon2id, with no transaction open: issue 19, finding 1)."""
    try:
        form.check(request_language(request))
        hashed = _hash_outside_transaction(session, form.password)
        with session.begin_nested():
            unit = get_unit(session=session, code=form.unit_code.strip()) if form.unit_code.strip() else None
            officer = (
                service.get_officer(session=session, code=form.officer_code.strip())
                if form.officer_code.strip()
                else None
            )
            user = create_user(
                session=session,
                username=form.username,
                password=form.password,
                role=form.role,
                unit=unit,
                officer=officer,
                display_name=form.display_name.strip()[:255],
                hashed_password=hashed,
            )
    except AppError as exc:
        values = form.model_dump(exclude={"password"})  # never sent back into the page
        return _page(request, "users", {**_users_context(session), "error": exc, "form": values}, 422)
    _audit(
        session, request, admin, "admin.user.create", user.username, f"role={user.role} unit={form.unit_code or '-'}"
    )
    return _done("/admin/users", "user-created")


@router.post("/users/{user_id}/active", response_class=HTMLResponse)
def users_active(
    request: Request, session: SessionDep, admin: AdminUser, user_id: int, form: Annotated[ActiveForm, Form()]
) -> Response:
    """Deactivate (ending the user's sessions, after a confirmation page) or reactivate a login."""
    form.check(request_language(request))
    user = service.get_user(session=session, user_id=user_id)
    if user.id == admin.id and not form.active:
        return _page(
            request,
            "users",
            {**_users_context(session), "error": "Không thể tự vô hiệu hoá tài khoản đang dùng."},
            422,
        )
    if not form.active and user.active and form.confirm != "yes":
        return _confirm(request, "user", user.username)
    service.set_active(session=session, user=user, active=bool(form.active))
    _audit(session, request, admin, "admin.user.active", user.username, f"active={user.active}")
    return _done("/admin/users", "user-saved")


@router.post("/users/{user_id}/password", response_class=HTMLResponse)
def users_password(
    request: Request, session: SessionDep, admin: AdminUser, user_id: int, form: Annotated[PasswordForm, Form()]
) -> Response:
    """Set a new password (the user's sessions end)."""
    user = service.get_user(session=session, user_id=user_id)
    try:
        form.check(request_language(request))
        hashed = _hash_outside_transaction(session, form.password)
        service.reset_password(session=session, user=user, password=form.password, hashed_password=hashed)
    except AppError as exc:
        context = {**_users_context(session), "error": exc, "error_user": user.id}
        return _page(request, "users", context, 422)
    _audit(session, request, admin, "admin.user.password", user.username)
    return _done("/admin/users", "password-reset")


# --- kiosks --------------------------------------------------------------------------------------------------------


def _kiosks_context(session: Session, notice: str | None = None, page: int = 1, q: str = "") -> dict[str, Any]:
    return {
        "section": "kiosks",
        "listing": service.device_page(session=session, page=page, q=q),
        "open_codes": service.open_pairing_codes(session=session),
        "counters": service.counter_choices(session=session),
        "notice": notice,
        "new_code": None,
    }


@router.get("/kiosks", response_class=HTMLResponse)
def kiosks_page(
    request: Request,
    session: SessionDep,
    admin: AdminUser,
    notice: NoticeQuery = None,
    page: PageQuery = 1,
    q: SearchQuery = "",
) -> HTMLResponse:
    """Paired kiosks (last seen, backlog), 100 a page, searchable by counter code, counter name or unit code;
    pairing codes and revocation."""
    return _page(request, "kiosks", _kiosks_context(session, notice, page, q))


@router.post("/kiosks/pairing-codes", response_class=HTMLResponse)
def kiosks_pairing_code(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    form: Annotated[PairingCodeForm, Form()],
) -> Response:
    """Issue a single-use pairing code for a counter; it is shown this once (only its hash is stored)."""
    try:
        form.check(request_language(request))
        counter = service.get_counter(session=session, code=form.counter_code.strip())
    except AppError as exc:
        context = {**_kiosks_context(session), "error": exc, "form": form.model_dump()}
        return _page(request, "kiosks", context, 422)
    code, expires_at = create_pairing_code(session=session, counter_code=counter.code, settings=settings)
    _audit(session, request, admin, "admin.kiosk.pairing_code", counter.code, f"expires {expires_at.isoformat()}")
    context = {**_kiosks_context(session), "new_code": code, "new_code_counter": counter}
    context["new_code_expires"] = expires_at
    return _page(request, "kiosks", context, 201)


@router.post("/kiosks/{device_id}/revoke", response_class=HTMLResponse)
def kiosks_revoke(
    request: Request, session: SessionDep, admin: AdminUser, device_id: int, form: Annotated[ConfirmForm, Form()]
) -> Response:
    """Revoke a kiosk (after a confirmation page): its token stops working at once; its ratings stay."""
    form.check(request_language(request))
    if form.confirm != "yes":
        view = service.get_device(session=session, device_id=device_id)
        if view.device.revoked_at is None:
            return _confirm(request, "kiosk", f"{view.counter.code} · {view.counter.name} ({view.unit.name})")
    device = service.revoke_device(session=session, device_id=device_id)
    _audit(session, request, admin, "admin.kiosk.revoke", str(device.id))
    return _done("/admin/kiosks", "device-revoked")


# --- API keys ------------------------------------------------------------------------------------------------------


def _keys_context(session: Session, notice: str | None = None) -> dict[str, Any]:
    return {
        "section": "apikeys",
        "keys": service.api_keys(session=session),
        "kinds": API_KEY_KINDS,
        "unit_choices": service.unit_choices(session=session),
        "notice": notice,
        "new_key": None,
    }


@router.get("/apikeys", response_class=HTMLResponse)
def keys_page(request: Request, session: SessionDep, admin: AdminUser, notice: NoticeQuery = None) -> HTMLResponse:
    """API keys for the one-stop system (visits) and reporting tools (read)."""
    return _page(request, "apikeys", _keys_context(session, notice))


@router.post("/apikeys", response_class=HTMLResponse)
def keys_create(
    request: Request, session: SessionDep, admin: AdminUser, form: Annotated[ApiKeyForm, Form()]
) -> Response:
    """Create a key; it is shown this once (only its hash is stored)."""
    try:
        form.check(request_language(request))
        with session.begin_nested():
            unit = get_unit(session=session, code=form.unit_code.strip())
            row, key = create_api_key(session=session, kind=form.kind, unit=unit, label=form.label.strip())
    except AppError as exc:
        context = {**_keys_context(session), "error": exc, "form": form.model_dump()}
        return _page(request, "apikeys", context, 422)
    _audit(session, request, admin, "admin.apikey.create", f"{row.kind}:{row.prefix}", unit.code)
    return _page(request, "apikeys", {**_keys_context(session), "new_key": key, "new_key_row": row}, 201)


@router.post("/apikeys/{key_id}/revoke", response_class=HTMLResponse)
def keys_revoke(
    request: Request, session: SessionDep, admin: AdminUser, key_id: int, form: Annotated[ConfirmForm, Form()]
) -> Response:
    """Revoke an API key (after a confirmation page)."""
    form.check(request_language(request))
    if form.confirm != "yes":
        key, unit = service.get_api_key(session=session, key_id=key_id)
        if key.revoked_at is None:
            label = f" · {key.label}" if key.label else ""
            return _confirm(request, "key", f"{key.prefix}… ({key.kind}, {unit.name}{label})")
    key = service.revoke_api_key(session=session, key_id=key_id)
    _audit(session, request, admin, "admin.apikey.revoke", f"{key.kind}:{key.prefix}")
    return _done("/admin/apikeys", "key-revoked")


# --- audit log -----------------------------------------------------------------------------------------------------


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    actor: Annotated[str, Query(max_length=128)] = "",
    action: Annotated[str, Query(max_length=64)] = "",
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
) -> HTMLResponse:
    """Who did what, newest first (admin changes, logins, exports), in words and local time; filters by user,
    action and days; 50 a page."""
    context: dict[str, Any] = {"section": "audit", "action_names": service.ACTION_NAMES}
    try:
        chosen = service.AuditFilter(
            actor=actor.strip(),
            action=action.strip(),
            date_from=service.parse_day(date_from, Message("start date")),
            date_to=service.parse_day(date_to, Message("end date")),
        )
        listing = service.audit_page(session=session, page=page, tz=settings.tz, filter=chosen)
    except AppError as exc:
        listing = service.audit_page(session=session, page=1, tz=settings.tz)
        form = {"actor": actor, "action": action, "date_from": date_from, "date_to": date_to}
        return _page(request, "audit", {**context, "listing": listing, "error": exc, "form": form}, 422)
    return _page(request, "audit", {**context, "listing": listing})
