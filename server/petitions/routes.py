"""The petitions inbox for managers and assigned officers: list, detail, assign, answer, close, classify, the
citizen's contact (audited), and each user's notification preferences. Every form carries the session's CSRF token.

Scope: a manager sees their unit's subtree, an admin everything, an officer only the petitions assigned to them.
Another unit's petition is 404 (its existence is not told); a unit filter outside the subtree is 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session, select

from server.auth.deps import CsrfDep, require_role, visible_root
from server.auth.service import audit
from server.config import Settings
from server.db import utcnow
from server.deps import SessionDep, SettingsDep, client_ip
from server.errors import Forbidden, Invalid, NotFound
from server.hardening import clean_text
from server.models import PETITION_CATEGORIES, PETITION_STATUSES, NotificationPref, Petition, Unit, User
from server.petitions import service
from server.petitions.calendar import load_calendar
from server.petitions.public import ACTION_LABELS, CATEGORY_LABELS, STATUS_LABELS
from server.templating import app_templates

router = APIRouter(prefix="/petitions", include_in_schema=False, dependencies=[CsrfDep])

#: What a user can ask to be told (Vietnamese source text).
PREF_KINDS = {
    "new_petition": "Có phản ánh mới",
    "due_soon": "Phản ánh sắp đến hạn (2 ngày làm việc)",
    "overdue": "Phản ánh quá hạn",
    "weekly_digest": "Tổng hợp hằng tuần",
    "low_rate": "Tỷ lệ hài lòng trong tháng chắc chắn dưới chỉ tiêu",
}

HandlerUser = Annotated[User, Depends(require_role("admin", "manager", "officer"))]


def _root(session: Session, user: User) -> Unit | None:
    """The subtree the user may see (officers: their unit, and within it only the petitions given to them)."""
    return visible_root(session=session, user=user)


def _petition(session: Session, user: User, petition_id: str) -> Petition:
    """The petition if `user` may open it (404 otherwise)."""
    if user.role == "officer":
        petition = service.in_scope(session=session, petition_id=petition_id, root=None)
        if petition.assignee_id != user.id:
            raise NotFound("unknown petition")
        return petition
    return service.in_scope(session=session, petition_id=petition_id, root=visible_root(session=session, user=user))


def _labels() -> dict[str, Any]:
    return {"category_labels": CATEGORY_LABELS, "status_labels": STATUS_LABELS, "action_labels": ACTION_LABELS}


@router.get("", response_class=HTMLResponse)
def inbox_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: HandlerUser,
    status: str = "open",
    unit: str = "",
    category: str = "",
    due: str = "",
) -> Response:
    """The inbox: open petitions first by due date; filters by status, unit, category and due."""
    if status and status != "open" and status not in PETITION_STATUSES and status != "all":
        raise Invalid("unknown status {status!r}", status=status)
    if category and category not in PETITION_CATEGORIES:
        raise Invalid("unknown category {category!r}", category=category)
    if due and due not in ("soon", "overdue"):
        raise Invalid("unknown due filter {due!r}", due=due)
    filters = service.InboxFilter(
        status="" if status == "all" else status,
        unit=unit,
        category=category,
        due=due,
        assignee_id=user.id if user.role == "officer" else None,
    )
    rows = service.inbox(session=session, settings=settings, root=_root(session, user), filters=filters)
    context = {
        "rows": rows,
        "filters": {"status": status, "unit": unit, "category": category, "due": due},
        "statuses": PETITION_STATUSES,
        "categories": PETITION_CATEGORIES,
        "tz": settings.tz,
        **_labels(),
    }
    return app_templates(request).TemplateResponse(request, "petitions/inbox.html", context)


@router.get("/badge", response_class=HTMLResponse)
def badge(request: Request, session: SessionDep, user: HandlerUser) -> Response:
    """The nav's count of open and overdue petitions (htmx fragment; the link works without it)."""
    if user.role == "officer":
        return HTMLResponse("")
    total, overdue = service.open_counts(session=session, root=_root(session, user))
    return app_templates(request).TemplateResponse(
        request, "petitions/_badge.html", {"open": total, "overdue": overdue}
    )


@router.get("/preferences", response_class=HTMLResponse)
def preferences_page(request: Request, session: SessionDep, user: HandlerUser, saved: bool = False) -> Response:
    """What the user wants to be told, and where."""
    pref = session.get(NotificationPref, user.id) or NotificationPref(user_id=user.id or 0)
    return app_templates(request).TemplateResponse(
        request, "petitions/preferences.html", {"pref": pref, "saved": saved, "kinds": PREF_KINDS}
    )


@router.post("/preferences", response_class=HTMLResponse)
def save_preferences(
    request: Request,
    session: SessionDep,
    user: HandlerUser,
    email: Annotated[str, Form(max_length=255)] = "",
    phone: Annotated[str, Form(max_length=32)] = "",
    language: Annotated[str, Form(max_length=8)] = "vi",
    kinds: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Store the preferences (an empty address: nothing by that channel)."""
    chosen = set(kinds or [])
    pref = session.get(NotificationPref, user.id) or NotificationPref(user_id=user.id or 0)
    pref.email = service.check_email(email)
    pref.phone = service.check_phone(phone)
    pref.language = language if language in ("vi", "en") else "vi"
    for kind in PREF_KINDS:
        setattr(pref, kind, kind in chosen)
    session.add(pref)
    session.flush()
    audit(session=session, actor=user.username, action="notify.preferences", target=f"user:{user.username}")
    return RedirectResponse("/petitions/preferences?saved=1", status_code=303)


@router.get("/{petition_id}", response_class=HTMLResponse)
def detail_page(
    petition_id: str, request: Request, session: SessionDep, settings: SettingsDep, user: HandlerUser
) -> Response:
    """One petition: content, due date, history, and the forms of the next steps."""
    petition = _petition(session, user, petition_id)
    return _detail(request, session, settings, user, petition)


def _detail(
    request: Request,
    session: Session,
    settings: Settings,
    user: User,
    petition: Petition,
    contact: service.Contact | None = None,
) -> HTMLResponse:
    unit = session.get(Unit, petition.unit_id)
    calendar = load_calendar(session=session)
    context = {
        "petition": petition,
        "unit": unit,
        "events": service.events(session=session, petition=petition),
        "handlers": service.handlers(session=session, petition=petition) if user.role != "officer" else [],
        "assignee": session.get(User, petition.assignee_id) if petition.assignee_id else None,
        "urgency": service.urgency(
            status=petition.status, due_at=petition.due_at, now=utcnow(), calendar=calendar, settings=settings
        ),
        "contact": contact,
        "may_handle": service.may_handle(session=session, user=user, petition=petition),
        "has_contact": bool(petition.contact_name or petition.contact_email or petition.contact_phone),
        "categories": PETITION_CATEGORIES,
        "open": petition.status in service.OPEN_STATUSES,
        "tz": settings.tz,
        "max_answer": service.MAX_ANSWER,
        **_labels(),
    }
    return app_templates(request).TemplateResponse(request, "petitions/detail.html", context)


def _back(petition: Petition) -> RedirectResponse:
    return RedirectResponse(f"/petitions/{petition.id}", status_code=303)


def _handling(session: Session, user: User, petition_id: str) -> Petition:
    petition = _petition(session, user, petition_id)
    if not service.may_handle(session=session, user=user, petition=petition):
        raise Forbidden("only the people handling this petition may do that")
    return petition


@router.post("/{petition_id}/assign")
def assign(
    petition_id: str,
    request: Request,
    session: SessionDep,
    user: HandlerUser,
    assignee: Annotated[str, Form(max_length=64)],
) -> Response:
    """Give the petition to a person of its unit (managers and admins)."""
    petition = _petition(session, user, petition_id)
    if user.role == "officer" or not service.may_handle(session=session, user=user, petition=petition):
        raise Forbidden("only a manager of the petition's unit may assign it")
    person = session.exec(select(User).where(User.username == assignee)).first()
    if person is None:
        raise Invalid("unknown user {username!r}", username=assignee)
    service.assign(session=session, petition=petition, assignee=person, actor=user.username, ip=client_ip(request))
    return _back(petition)


@router.post("/{petition_id}/answer")
def answer(
    petition_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: HandlerUser,
    text: Annotated[str, Form(max_length=service.MAX_ANSWER + 200)],
) -> Response:
    """Write the answer (shown at the citizen's link, sent to their email or phone)."""
    petition = _handling(session, user, petition_id)
    service.answer(
        session=session,
        settings=settings,
        petition=petition,
        text=clean_text(text),
        actor=user.username,
        ip=client_ip(request),
    )
    return _back(petition)


@router.post("/{petition_id}/close")
def close(petition_id: str, request: Request, session: SessionDep, user: HandlerUser) -> Response:
    """Close an answered petition."""
    petition = _handling(session, user, petition_id)
    service.close(session=session, petition=petition, actor=user.username, ip=client_ip(request))
    return _back(petition)


@router.post("/{petition_id}/category")
def classify(
    petition_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: HandlerUser,
    category: Annotated[str, Form(max_length=16)],
) -> Response:
    """Classify the petition; its due date follows the category's handling time."""
    petition = _handling(session, user, petition_id)
    service.set_category(
        session=session, petition=petition, category=category, actor=user.username, ip=client_ip(request)
    )
    service.recompute_due(session=session, settings=settings, petition=petition)
    return _back(petition)


@router.post("/{petition_id}/contact", response_class=HTMLResponse)
def show_contact(
    petition_id: str, request: Request, session: SessionDep, settings: SettingsDep, user: HandlerUser
) -> Response:
    """The citizen's contact, for the people handling the petition; every view is audited."""
    petition = _petition(session, user, petition_id)
    contact = service.view_contact(session=session, petition=petition, user=user, ip=client_ip(request))
    return _detail(request, session, settings, user, petition, contact)
