"""`/r/<token>`: the phone rating page. No login, no JavaScript needed, friendly pages for every outcome."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server.cache import TimedCache
from server.deps import SessionDep, SettingsDep, client_ip, commits_in_thread
from server.errors import Conflict, Gone, NotFound
from server.i18n import request_language
from server.petitions.service import petition_from_rating, petition_token_of_visit
from server.phone import service
from server.phone.service import PostedForm
from server.templating import app_templates
from server.visits import signing
from server.visits.routes import link_failures
from server.visits.service import RatableVisit, visit_to_rate

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}

#: The outcomes a citizen can meet besides the form: title and explanation (Vietnamese source text).
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "unknown": (
        404,
        "Không tìm thấy lượt đánh giá",
        "Đường dẫn này không đúng. Vui lòng quét lại mã QR trên giấy hẹn hoặc kiểm tra lại đường dẫn.",
    ),
    "rated": (
        409,
        "Lượt giao dịch này đã được đánh giá",
        "Mỗi lượt giao dịch chỉ được đánh giá một lần (tại quầy hoặc trên điện thoại). Cảm ơn Ông/Bà đã góp ý.",
    ),
    "expired": (
        410,
        "Liên kết đánh giá đã hết hạn",
        "Liên kết đánh giá chỉ có hiệu lực trong một thời gian sau khi giao dịch. Cảm ơn Ông/Bà đã quan tâm.",
    ),
    "too_many": (
        429,
        "Quá nhiều yêu cầu",
        "Có quá nhiều đường dẫn không hợp lệ được mở từ mạng này. Vui lòng thử lại sau ít phút.",
    ),
    "too_large": (
        413,
        "Nội dung gửi lên quá dài",
        "Góp ý hoặc thông tin liên hệ quá dài. Vui lòng quay lại, rút gọn rồi gửi lại.",
    ),
    "form_expired": (
        403,
        "Phiên đánh giá đã hết hạn",
        "Không xác nhận được biểu mẫu (trình duyệt cần cho phép cookie). Vui lòng mở lại trang đánh giá và gửi lại.",
    ),
    "rejected": (
        400,
        "Không thể ghi nhận đánh giá",
        "Biểu mẫu gửi lên không hợp lệ. Vui lòng mở lại trang đánh giá và gửi lại.",
    ),
}


def problem_page(request: Request, kind: str, token: str, headers: dict[str, str] | None = None) -> HTMLResponse:
    """The friendly page for an outcome other than the form (status from `PROBLEMS`)."""
    status, title, message = PROBLEMS[kind]
    retry = f"/r/{token}" if kind in ("too_large", "form_expired", "rejected") else None
    return app_templates(request).TemplateResponse(
        request,
        "phone/problem.html",
        {"kind": kind, "status_code": status, "title": title, "message": message, "retry_url": retry},
        status_code=status,
        headers={**NO_STORE, **(headers or {})},
    )


def _blocked(request: Request, token: str) -> HTMLResponse | None:
    verdict = link_failures(request).check(client_ip(request))
    if verdict.allowed:
        return None
    return problem_page(request, "too_many", token, headers={"Retry-After": str(verdict.retry_after)})


def _choices(request: Request, session: SessionDep) -> service.Choices:
    """The scale and reasons, from the worker's reference cache (`HAILONG_REFERENCE_CACHE_SECONDS`)."""
    cache: TimedCache = request.app.state.reference_cache
    return cache.get_or_compute("phone choices", lambda: service.load_choices(session=session))


def _form_page(
    request: Request,
    session: SessionDep,
    *,
    visit: RatableVisit,
    csrf: str,
    answer: service.Answer | None = None,
    errors: list[service.FieldError] | None = None,
    status: int = 200,
) -> HTMLResponse:
    choices = _choices(request, session)
    context: dict[str, Any] = {
        "token": visit.token,
        "csrf": csrf,
        "visit": visit,
        "levels": choices.levels,
        "reasons": choices.reasons,
        "answer": answer or service.Answer(),
        "errors": errors or [],
        # The message shown next to each field (the first problem of that field).
        "field_errors": {e.field: e.message for e in reversed(errors or [])},
        "max_comment": service.MAX_COMMENT,
        "max_contact": service.MAX_CONTACT,
        "honeypot": service.HONEYPOT_FIELD,
        "en": request_language(request) == "en",
    }
    return app_templates(request).TemplateResponse(
        request, "phone/rate.html", context, status_code=status, headers=NO_STORE
    )


def _outcome(request: Request, exc: Exception, token: str) -> HTMLResponse:
    """The page for a visit that cannot be rated; unknown and expired links count against the address."""
    if isinstance(exc, Conflict):
        return problem_page(request, "rated", token)
    link_failures(request).fail(client_ip(request))
    return problem_page(request, "expired" if isinstance(exc, Gone) else "unknown", token)


@router.get("/r/{token}", response_class=HTMLResponse)
@commits_in_thread
def rating_page(token: str, request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """The rating form of a visit (404 unknown, 409 already rated, 410 expired, 429 too many bad links)."""
    blocked = _blocked(request, token)
    if blocked is not None:
        return blocked
    nonce = request.cookies.get(service.CSRF_COOKIE) or ""
    fresh = len(nonce) < 16
    if fresh:
        nonce = signing.new_nonce()
    try:
        visit = visit_to_rate(session=session, token=token)
    except (NotFound, Gone, Conflict) as exc:
        return _outcome(request, exc, token)
    page = _form_page(
        request, session, visit=visit, csrf=service.csrf_token(settings=settings, token=token, nonce=nonce)
    )
    if fresh:
        page.set_cookie(
            service.CSRF_COOKIE,
            nonce,
            path=f"/r/{token}",
            httponly=True,
            samesite="strict",
            secure=settings.public_base_url.startswith("https://"),
        )
    return page


async def posted_form(request: Request) -> PostedForm:
    """The form body, read up to `MAX_FORM_BYTES` (larger bodies are refused without being read further)."""
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > service.MAX_FORM_BYTES):
        return PostedForm(too_large=True)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > service.MAX_FORM_BYTES:
            return PostedForm(too_large=True)
    return service.parse_form_body(bytes(body), request.headers.get("content-type", ""))


@router.post("/r/{token}", response_class=HTMLResponse)
@commits_in_thread
def submit_rating(
    token: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[PostedForm, Depends(posted_form)],
) -> Response:
    """Store the citizen's rating once (303 to the thanks page), or answer why not with a friendly page."""
    blocked = _blocked(request, token)
    if blocked is not None:
        return blocked
    if form.too_large:
        return problem_page(request, "too_large", token)
    if form.unreadable:
        return problem_page(request, "rejected", token)
    if form.filled(service.HONEYPOT_FIELD):  # any value, not only the first (issue 19, finding 11)
        link_failures(request).fail(client_ip(request))  # only robots fill the hidden field
        return problem_page(request, "rejected", token)
    given = form.first("csrf")
    if not service.csrf_ok(settings=settings, token=token, nonce=request.cookies.get(service.CSRF_COOKIE), given=given):
        return problem_page(request, "form_expired", token)
    try:
        visit = visit_to_rate(session=session, token=token)
    except (NotFound, Gone, Conflict) as exc:
        return _outcome(request, exc, token)
    choices = _choices(request, session)
    answer, errors = service.read_answer(form, levels=choices.levels, reasons=choices.reasons)
    if errors:
        return _form_page(request, session, visit=visit, csrf=given, answer=answer, errors=errors, status=422)
    try:
        rating_id = service.store_phone_rating(
            session=session, settings=settings, visit=visit, answer=answer, choices=choices
        )
    except Conflict:
        return problem_page(request, "rated", token)
    # Not satisfied, a comment and consent to contact: a petition (server/petitions), linked on the thanks page.
    if answer.may_become_petition(choices):
        petition_from_rating(
            session=session, settings=settings, rating_id=rating_id, language=request_language(request)
        )
    return RedirectResponse(f"/r/{token}/thanks", status_code=303, headers=NO_STORE)


@router.get("/r/{token}/thanks", response_class=HTMLResponse)
def thanks_page(token: str, request: Request, session: SessionDep) -> Response:
    """Thanks after a phone rating (the form again when the visit is not rated yet)."""
    blocked = _blocked(request, token)
    if blocked is not None:
        return blocked
    try:
        visit_to_rate(session=session, token=token)
    except Conflict:
        petition = petition_token_of_visit(session=session, visit_token=token)
        context = {"token": token, "petition_url": f"/pakn/{petition}" if petition else None}
        return app_templates(request).TemplateResponse(request, "phone/thanks.html", context, headers=NO_STORE)
    except (NotFound, Gone) as exc:
        return _outcome(request, exc, token)
    return RedirectResponse(f"/r/{token}", status_code=303)
