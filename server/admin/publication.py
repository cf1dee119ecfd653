"""Administration of the public pages (/admin/cong-khai): which unit subtrees are published, and the minimum sample
below which a published rate is withheld. Every change is audited; each worker's public cache is replaced at once
here, and the others' within `HAILONG_PUBLIC_CACHE_SECONDS`."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, col

from server.admin.forms import MinSampleForm, PublicationForm
from server.admin.service import unit_choices
from server.auth.deps import AdminUser, require_admin, verify_csrf
from server.auth.service import audit
from server.cache import TimedCache
from server.config import Settings
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import AppError, Invalid
from server.i18n import request_language
from server.models import PublicUnit, Unit
from server.public import service
from server.units.service import get_unit

router = APIRouter(
    prefix="/admin/cong-khai",
    include_in_schema=False,
    dependencies=[Depends(require_admin), Depends(verify_csrf)],
)

NOTICES = {
    "unit-saved": "Đã lưu phạm vi công khai.",
    "min-sample-saved": "Đã lưu cỡ mẫu tối thiểu để công khai.",
}
CHOICES: dict[str, bool | None] = {"publish": True, "withhold": False, "inherit": None}


def _context(session: Session, settings: Settings) -> dict[str, Any]:
    explicit = session.execute(
        sa.select(PublicUnit, Unit).join(Unit, col(Unit.id) == PublicUnit.unit_id).order_by(col(Unit.path))
    ).all()
    pub = service.publication(session=session, settings=settings)
    tops = [
        u
        for u in pub.units.values()
        if not any(u.path != o.path and u.path.startswith(o.path) for o in pub.units.values())
    ]
    return {
        "section": "publication",
        "explicit": explicit,
        "published_count": len(pub.units),
        "unit_count": session.execute(sa.select(sa.func.count()).select_from(Unit)).scalar_one(),
        "tops": tops,
        "unit_choices": unit_choices(session=session),  # chosen from the list, never typed
        "own_min_sample": service.min_sample_setting(session=session),
        "index_min_sample": settings.min_sample,
        "min_sample": pub.min_sample,
    }


def _page(request: Request, context: dict[str, Any], notice: str | None = None, status_code: int = 200) -> HTMLResponse:
    context.setdefault("error", None)
    context.setdefault("form", {})
    if isinstance(context["error"], AppError):
        context["error"] = context["error"].in_language(request_language(request))
    context["notice"] = NOTICES.get(notice or "")
    response: HTMLResponse = request.app.state.templates.TemplateResponse(
        request, "admin/publication.html", context, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def _changed(request: Request, notice: str) -> RedirectResponse:
    """Back to the page; this worker's public pages are recomputed from the next request on."""
    seconds = request.app.state.settings.public_cache_seconds
    request.app.state.public_cache = TimedCache(seconds, max_entries=1024)
    request.app.state.public_answers = TimedCache(seconds, max_entries=1024)
    return RedirectResponse(f"/admin/cong-khai?notice={notice}", status_code=303)


def _audit(session: Session, request: Request, admin: Any, action: str, target: str, detail: str) -> None:
    audit(session=session, actor=admin.username, action=action, target=target, detail=detail, ip=client_ip(request))


@router.get("", response_class=HTMLResponse)
def publication_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    notice: Annotated[str | None, Query(max_length=32)] = None,
) -> HTMLResponse:
    """What is public: published subtrees, the settings made, the minimum sample."""
    return _page(request, _context(session, settings), notice)


@router.post("/units", response_class=HTMLResponse)
def publication_unit(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    form: Annotated[PublicationForm, Form()],
) -> Response:
    """Publish or withhold a unit's subtree, or let it follow the unit above it again."""
    choice = form.choice
    try:
        form.check(request_language(request))
        with session.begin_nested():
            if choice not in CHOICES:
                raise Invalid("choose publish, withhold or inherit")
            unit = get_unit(session=session, code=form.unit_code.strip())
            service.set_published(session=session, unit=unit, published=CHOICES[choice], actor=admin.username)
    except AppError as exc:
        context = {**_context(session, settings), "error": exc, "form": form.model_dump()}
        return _page(request, context, status_code=422)
    _audit(session, request, admin, "admin.public.unit", unit.code, choice)
    return _changed(request, "unit-saved")


@router.post("/min-sample", response_class=HTMLResponse)
def publication_min_sample(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    admin: AdminUser,
    form: Annotated[MinSampleForm, Form()],
) -> Response:
    """The minimum sample for publication (empty: the index's)."""
    text = form.min_sample.strip()
    try:
        form.check(request_language(request))
        with session.begin_nested():
            if text and not text.isdigit():
                raise Invalid("the minimum sample must be a whole number")
            service.set_min_sample(
                session=session, settings=settings, value=int(text) if text else None, actor=admin.username
            )
    except AppError as exc:
        context = {**_context(session, settings), "error": exc, "form": form.model_dump()}
        return _page(request, context, status_code=422)
    _audit(session, request, admin, "admin.public.min_sample", "public", text or "default")
    return _changed(request, "min-sample-saved")
