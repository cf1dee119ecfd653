"""The citizen's pages, without login or JavaScript: the public form `/gop-y` and the private link `/pakn/<token>`.

Abuse protection as on the phone page: a CSRF token (HMAC of the page and a per-form nonce cookie scoped to its
path), a hidden honeypot field, a 16 KB cap on the body, and the limiter of failed links (unknown tokens and honeypot
hits count; successes never do). The form also limits what succeeds, since each filing queues messages to managers:
at most `petition_form_limit` petitions per address (`client_source`) within `petition_form_window_seconds`, then a
429 page; and its nonce files one petition only (sent again, it leads to that petition; the answer carries a fresh
nonce). Both are kept in each worker's memory, as the limiter of failed links is.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col, select

from server.config import Settings
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import AppError, NotFound
from server.hardening import clean_text, client_source
from server.i18n import request_language
from server.models import PETITION_CATEGORIES, Petition, Unit
from server.petitions import service
from server.phone.routes import posted_form
from server.phone.service import HONEYPOT_FIELD, PostedForm
from server.templating import app_templates
from server.visits import signing
from server.visits.limiter import FailureLimiter, app_limiter, on_app_state
from server.visits.routes import link_failures

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
CSRF_PURPOSE = "petition-csrf"
FORM_COOKIE = "hl_gopy"
LINK_COOKIE = "hl_pakn"
MAX_NAME = 255

#: Problems a citizen can meet: status, title, explanation (Vietnamese source text).
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "unknown": (404, "Không tìm thấy phản ánh", "Đường dẫn này không đúng. Vui lòng kiểm tra lại đường dẫn đã nhận."),
    "too_many": (
        429,
        "Quá nhiều yêu cầu",
        "Có quá nhiều yêu cầu không hợp lệ từ mạng này. Vui lòng thử lại sau ít phút.",
    ),
    "too_large": (413, "Nội dung gửi lên quá dài", "Vui lòng quay lại, rút gọn nội dung rồi gửi lại."),
    "form_expired": (
        403,
        "Biểu mẫu đã hết hạn",
        "Không xác nhận được biểu mẫu (trình duyệt cần cho phép cookie). Vui lòng mở lại trang và gửi lại.",
    ),
    "rejected": (400, "Không thể ghi nhận", "Biểu mẫu gửi lên không hợp lệ. Vui lòng mở lại trang và gửi lại."),
    "no_reaction": (409, "Chưa thể ghi nhận ý kiến", "Phản ánh này hiện không chờ ý kiến của Ông/Bà về câu trả lời."),
    "too_many_filings": (
        429,
        "Đã nhận nhiều phản ánh từ mạng này",
        "Để chống thư rác, mỗi mạng chỉ gửi được một số phản ánh trong một khoảng thời gian. Các phản ánh đã gửi vẫn "
        "được ghi nhận. Vui lòng thử lại sau, hoặc phản ánh trực tiếp tại bộ phận một cửa.",
    ),
}

CATEGORY_LABELS = {
    "tthc": "Quy định, thủ tục hành chính",
    "staff": "Thái độ, hành vi của cán bộ",
    "other": "Khác",
}
STATUS_LABELS = {
    "received": "Đã tiếp nhận",
    "assigned": "Đang xử lý",
    "answered": "Đã trả lời",
    "closed": "Đã kết thúc",
    "reopened": "Đang xem xét lại",
}

#: A petition's history as the inbox shows it (`petition_event.action`).
ACTION_LABELS = {
    "received": "Tiếp nhận",
    "assigned": "Giao xử lý",
    "answered": "Trả lời",
    "closed": "Kết thúc",
    "reopened": "Người dân chưa hài lòng: mở lại",
    "reacted:satisfied": "Người dân hài lòng",
    "reacted:not_satisfied": "Người dân chưa hài lòng",
    "classified": "Phân loại",
    "contact_viewed": "Xem liên hệ",
    "contact_erased": "Xoá liên hệ (hết thời hạn lưu trữ)",
    "imported_update": "Cập nhật từ hệ thống khác",
}
#: The public form's problems (Vietnamese source text, English in the catalog).
FORM_ERRORS = (
    "Vui lòng chọn đơn vị.",
    "Vui lòng chọn loại phản ánh, kiến nghị.",
    "Vui lòng nhập nội dung phản ánh, kiến nghị.",
    "Nội dung dài quá 4000 ký tự; vui lòng rút gọn.",
    "Mã hồ sơ dài quá 128 ký tự.",
    "Họ tên dài quá 255 ký tự.",
    "Địa chỉ email không hợp lệ.",
    "Số điện thoại không hợp lệ.",
)


def problem(
    request: Request, kind: str, retry: str | None = None, headers: dict[str, str] | None = None
) -> HTMLResponse:
    """A friendly page for an outcome other than the form."""
    status, title, message = PROBLEMS[kind]
    return app_templates(request).TemplateResponse(
        request,
        "petitions/problem.html",
        {"status_code": status, "title": title, "message": message, "retry_url": retry},
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def _blocked(request: Request) -> HTMLResponse | None:
    verdict = link_failures(request).check(client_ip(request))
    if verdict.allowed:
        return None
    return problem(request, "too_many", headers={"Retry-After": str(verdict.retry_after)})


def _nonce(request: Request, cookie: str) -> tuple[str, bool]:
    nonce = request.cookies.get(cookie) or ""
    return (nonce, False) if len(nonce) >= 16 else (signing.new_nonce(), True)


class FiledForms:
    """The form nonces that have filed a petition, each with that petition's token, for `window` seconds (the oldest
    are forgotten beyond `max_nonces`): a nonce files once; sent again, it leads to its petition."""

    def __init__(self, *, window: float, max_nonces: int = 20_000) -> None:
        self.window = window
        self.max_nonces = max_nonces
        self._filed: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()

    def petition_of(self, nonce: str) -> str | None:
        """The token of the petition `nonce` filed within the window, if any."""
        with self._lock:
            filed = self._filed.get(nonce)
            if filed is None or filed[0] <= time.monotonic() - self.window:
                return None
            return filed[1]

    def record(self, nonce: str, token: str) -> None:
        """`nonce` has filed the petition `token`."""
        with self._lock:
            self._filed[nonce] = (time.monotonic(), token)
            self._filed.move_to_end(nonce)
            while len(self._filed) > self.max_nonces:
                self._filed.popitem(last=False)


def filed_forms(request: Request) -> FiledForms:
    """The app's memory of used form nonces (one per app, so per test app; each worker has its own)."""
    state = request.app.state
    return on_app_state(
        state, "petition_filed_forms", lambda: FiledForms(window=state.settings.petition_form_window_seconds)
    )


def filings(request: Request) -> FailureLimiter:
    """The limiter of petitions filed through the form per address: here successes count, as each one queues
    messages to the unit's managers (a legitimate citizen files one or two)."""
    settings = request.app.state.settings
    return app_limiter(
        request.app.state,
        "petition_filings",
        limit=settings.petition_form_limit,
        window=settings.petition_form_window_seconds,
    )


def _set_nonce(response: Response, settings: Settings, cookie: str, nonce: str, path: str) -> None:
    response.set_cookie(
        cookie,
        nonce,
        path=path,
        httponly=True,
        samesite="strict",
        secure=settings.public_base_url.startswith("https://"),
    )


def _csrf(settings: Settings, page: str, nonce: str) -> str:
    return signing.sign(settings.secret_key, CSRF_PURPOSE, page, nonce)


def _csrf_ok(settings: Settings, page: str, nonce: str | None, given: str) -> bool:
    return bool(nonce and given) and signing.verify(settings.secret_key, CSRF_PURPOSE, given, page, nonce or "")


def _screen(
    request: Request, form: PostedForm, settings: Settings, page: str, cookie: str, retry: str
) -> Response | None:
    """The common checks of a posted public form: the limiter of failed links, size, readability, honeypot, CSRF
    (None: all passed)."""
    blocked = _blocked(request)
    if blocked is not None:
        return blocked
    if form.too_large:
        return problem(request, "too_large", retry)
    if form.unreadable:
        return problem(request, "rejected", retry)
    if form.filled(HONEYPOT_FIELD):  # any value, not only the first, as on the phone page
        link_failures(request).fail(client_ip(request))  # only robots fill the hidden field
        return problem(request, "rejected", retry)
    if not _csrf_ok(settings, page, request.cookies.get(cookie), form.first("csrf")):
        return problem(request, "form_expired", retry)
    return None


# --- the public form --------------------------------------------------------------------------------------------


def _units(session: Session) -> list[Unit]:
    return list(session.exec(select(Unit).where(col(Unit.active).is_(True)).order_by(col(Unit.path))).all())


def _form_page(
    request: Request,
    session: Session,
    csrf: str,
    values: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    context: dict[str, Any] = {
        "units": _units(session),
        "categories": [(c, CATEGORY_LABELS[c]) for c in PETITION_CATEGORIES],
        "values": values or {"unit": request.query_params.get("unit", "")},
        "errors": errors or [],
        "csrf": csrf,
        "honeypot": HONEYPOT_FIELD,
        "max_content": service.MAX_CONTENT,
    }
    return app_templates(request).TemplateResponse(
        request, "petitions/form.html", context, status_code=status, headers=NO_STORE
    )


@router.get("/gop-y", response_class=HTMLResponse)
def petition_form(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The public petition form (no login, no JavaScript)."""
    blocked = _blocked(request)
    if blocked is not None:
        return blocked
    nonce, fresh = _nonce(request, FORM_COOKIE)
    if not fresh and filed_forms(request).petition_of(nonce) is not None:
        nonce, fresh = signing.new_nonce(), True  # that form was sent: this one is a new form
    page = _form_page(request, session, _csrf(settings, "gop-y", nonce))
    if fresh:
        _set_nonce(page, settings, FORM_COOKIE, nonce, "/gop-y")
    return page


@router.post("/gop-y", response_class=HTMLResponse)
def submit_petition(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[PostedForm, Depends(posted_form)],
) -> Response:
    """File a petition from the public form: 303 to its private link, or the form again with what to fix."""
    refused = _screen(request, form, settings, "gop-y", FORM_COOKIE, "/gop-y")
    if refused is not None:
        return refused
    nonce = request.cookies.get(FORM_COOKIE) or ""  # the CSRF check above proved it is this form's
    filed = filed_forms(request).petition_of(nonce)
    if filed is not None:  # the same form again (a second click, a reload): its petition, not a new one
        return RedirectResponse(f"/pakn/{filed}", status_code=303, headers=NO_STORE)
    source = client_source(client_ip(request))
    verdict = filings(request).check(source)
    if not verdict.allowed:
        return problem(request, "too_many_filings", headers={"Retry-After": str(verdict.retry_after)})
    values = {
        k: " ".join(clean_text(form.first(k)).split())
        if k != "content"
        else clean_text(form.first(k)).replace("\r\n", "\n").strip()
        for k in ("unit", "category", "content", "dossier_code", "name", "email", "phone")
    }
    errors: list[str] = []
    unit = session.exec(select(Unit).where(Unit.code == values["unit"], col(Unit.active).is_(True))).first()
    if unit is None:
        errors.append("Vui lòng chọn đơn vị.")
    if values["category"] not in PETITION_CATEGORIES:
        errors.append("Vui lòng chọn loại phản ánh, kiến nghị.")
    if not values["content"]:
        errors.append("Vui lòng nhập nội dung phản ánh, kiến nghị.")
    elif len(values["content"]) > service.MAX_CONTENT:
        errors.append("Nội dung dài quá 4000 ký tự; vui lòng rút gọn.")
    if len(values["dossier_code"]) > 128:
        errors.append("Mã hồ sơ dài quá 128 ký tự.")
    if len(values["name"]) > MAX_NAME:
        errors.append("Họ tên dài quá 255 ký tự.")
    email = phone = None
    try:
        email = service.check_email(values["email"])
    except AppError:
        errors.append("Địa chỉ email không hợp lệ.")
    try:
        phone = service.check_phone(values["phone"])
    except AppError:
        errors.append("Số điện thoại không hợp lệ.")
    if errors or unit is None:
        return _form_page(request, session, form.first("csrf"), values, errors, status=422)
    assert unit.id is not None
    petition = service.create_petition(
        session=session,
        settings=settings,
        unit_id=unit.id,
        category=values["category"],
        content=values["content"],
        source="form",
        actor="citizen",
        contact=service.Contact(name=values["name"] or None, email=email, phone=phone),
        dossier_code=values["dossier_code"] or None,
        language=request_language(request),
    )
    filings(request).fail(source)  # counts a filing
    filed_forms(request).record(nonce, petition.token)
    response = RedirectResponse(f"/pakn/{petition.token}", status_code=303, headers=NO_STORE)
    _set_nonce(response, settings, FORM_COOKIE, signing.new_nonce(), "/gop-y")  # the next form is a new one
    return response


# --- the private link -------------------------------------------------------------------------------------------


def _petition(request: Request, session: Session, token: str) -> Petition | None:
    try:
        return service.by_token(session=session, token=token)
    except NotFound:
        link_failures(request).fail(client_ip(request))
        return None


@router.get("/pakn/{token}", response_class=HTMLResponse)
def petition_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The citizen's view of a petition: status, due date, the answer, and the reaction buttons once answered."""
    blocked = _blocked(request)
    if blocked is not None:
        return blocked
    petition = _petition(request, session, token)
    if petition is None:
        return problem(request, "unknown")
    nonce, fresh = _nonce(request, LINK_COOKIE)
    unit = session.get(Unit, petition.unit_id)
    context = {
        "petition": petition,
        "unit": unit,
        "status_label": STATUS_LABELS[petition.status],
        "category_label": CATEGORY_LABELS.get(petition.category, petition.category),
        "csrf": _csrf(settings, token, nonce),
        "honeypot": HONEYPOT_FIELD,
        "tz": settings.tz,
        "link": f"{settings.public_base_url}/pakn/{petition.token}",
    }
    page = app_templates(request).TemplateResponse(request, "petitions/status.html", context, headers=NO_STORE)
    if fresh:
        _set_nonce(page, settings, LINK_COOKIE, nonce, f"/pakn/{token}")
    return page


@router.post("/pakn/{token}", response_class=HTMLResponse)
def react(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[PostedForm, Depends(posted_form)],
) -> Response:
    """The citizen's reaction to the answer: satisfied, or not (which reopens the petition once)."""
    refused = _screen(request, form, settings, token, LINK_COOKIE, f"/pakn/{token}")
    if refused is not None:
        return refused
    petition = _petition(request, session, token)
    if petition is None:
        return problem(request, "unknown")
    reaction = form.first("reaction")
    if reaction not in ("satisfied", "not_satisfied"):
        return problem(request, "rejected", f"/pakn/{token}")
    if petition.status != "answered":
        return problem(request, "no_reaction", f"/pakn/{token}")
    service.react(session=session, petition=petition, reaction=reaction)
    return RedirectResponse(f"/pakn/{token}", status_code=303, headers=NO_STORE)
