"""Unit scoping (IDOR) tests GENERATED from the app's route table, not hand-picked.

Every route is either public (an explicit list below) or depends on an authentication dependency. For every
protected route the generator fills each path, query and form parameter with an identifier of unit B (a sibling of
A) and calls it as A's manager, as A's officer and with A's read key: none of them may get a 200 carrying B's data,
and A's manager must get 403 or 404. A route with a parameter the generator does not know fails the coverage
test, so a new route cannot slip past these checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from pydantic import BaseModel
from sqlmodel import Session, select

from server.auth import deps as auth_deps
from server.config import Settings
from server.deps import get_device
from server.dossiers.routes import integration_key
from server.ingest.routes import get_ingest_device
from server.kiosks.routes import get_device_for_reading
from server.models import Visit
from server.petitions.api import petition_importer, petition_reader
from server.visits.routes import visit_creator
from tests import factories, logins
from tests.server.dashboard.world import B_MARKER, World, build_world
from tests.server.visits import factories as visit_factories

#: Routes anyone may call (method, path).
PUBLIC_ROUTES = {
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/login"),
    ("POST", "/login"),
    # The visit token is the capability (≥ 64 random bits): the phone page and the QR codes of a visit.
    ("GET", "/r/{token}"),
    ("POST", "/r/{token}"),
    ("GET", "/r/{token}/thanks"),
    ("GET", "/api/v1/visits/{token}/qr.png"),
    ("GET", "/api/v1/visits/{token}/qr.svg"),
    # The single-use pairing code is the credential.
    ("POST", "/api/v1/kiosks/pair"),
    # Old bookmarks of the counter console's login: a redirect to /login.
    ("GET", "/console/login"),
    # Petitions: the public form, and the petition's private link (the token, 144 random bits, is the capability).
    ("GET", "/gop-y"),
    ("POST", "/gop-y"),
    ("GET", "/pakn/{token}"),
    ("POST", "/pakn/{token}"),
    # Public disclosure: aggregate figures of the units an administrator published (server/public).
    ("GET", "/cong-khai"),
    ("GET", "/cong-khai/data.json"),
    ("GET", "/cong-khai/data.csv"),
    ("GET", "/cong-khai/badge/{code}.svg"),
}
#: Protected routes that act only on the caller's own session and take no identifier (tested in tests/server/auth).
SELF_ONLY_ROUTES = {("POST", "/logout"), ("POST", "/petitions/preferences")}
#: Protected pages that take no identifier at all and show only the caller's own unit (A's manager may open them:
#: they must answer 200 without any of B's data).
OWN_UNIT_ROUTES = {("GET", "/console"), ("GET", "/petitions/badge"), ("GET", "/petitions/preferences")}

#: How to fill each parameter with B's identifiers (by name, whether in the path, the query or a form).
B_VALUES: dict[str, Callable[[World], Any]] = {
    "unit": lambda w: w.b.code,
    "within": lambda w: w.b1.code,
    "unit_code": lambda w: w.b.code,
    "parent_code": lambda w: w.b.code,
    "counter_code": lambda w: w.counter_b.code,
    "counter": lambda w: w.counter_b.code,
    "officer_code": lambda w: w.officer_b.code,
    "officer": lambda w: w.officer_b.code,
    "user_id": lambda w: w.manager_b.id,
    "device_id": lambda w: w.kiosk_b.id,
    "key_id": lambda w: w.key_b.id,
    "unit_id": lambda w: w.b.id,
    "token": lambda w: w.visit_b.token,  # a visit at B's counter (the console's slip page)
    "visit_id": lambda w: w.visit_b.id,  # the same visit by its id (the console's recent list links by id)
    "code": lambda w: w.counter_b.code,  # the counter whose fields are chosen (admin)
    "edit": lambda w: w.counter_b.code,
    "petition_id": lambda w: b_petition(w).id,  # a petition of B's unit (its content carries B's marker)
    "assignee": lambda w: w.manager_b.username,
}
#: Parameters that carry no unit's identity: filled with a valid neutral value.
NEUTRAL_VALUES: dict[str, Any] = {
    "period": "2026-10",
    "month": "2026-10",
    "field": "land",
    "field_code": "land",
    "group_code": "lci",
    "lang": "vi",
    "page": "1",
    "next": "/",
    "by": "field",
    "csrf_token": None,  # filled with the caller's valid token, so a 403 is never only the CSRF check
    "seen": "waiting",
    "dossier": "D-1",  # the comments of one dossier: the unit decides the scope
    "fields": "land",
    "notice": None,
    # Form fields, valid values: without the role check these requests would succeed (and change B's things).
    "name": "Tên thử IDOR",
    "name_vi": "Tên thử",
    "name_en": "Test name",
    "groups": "lci",
    "active": "1",
    "threshold": "90",
    "year_from": "2027",
    "level": "xã",
    "username": "idor-user",
    "display_name": "IDOR",
    "role": "manager",
    "password": "a-long-password-123",
    "kind": "read",
    "label": "idor",
    "procedure_code": "1.004227",
    "dossier_code": "000.00.00.H12-261005-0001",
    "format": "a6",
    "q": "",
    "section": "units",
    "fmt": "csv",
    "confirm": "yes",
    "actor": "",
    "action": "",
    "date_from": "",
    "date_to": "",
    "show": "all",  # the QĐ 766 drill-down's dossier filter
    # Petitions (server/petitions): valid filters and form fields.
    "status": "open",
    "category": "tthc",
    "due": "overdue",
    "saved": "1",
    "text": "Câu trả lời thử",
    "email": "idor@example.vn",
    "phone": "0900000000",
    "language": "vi",
    "kinds": "new_petition",
    # What is public (server/admin/publication.py).
    "choice": "withhold",
    "min_sample": "40",
    "sort": "rate",
}


def b_petition(world: World) -> Any:
    """A petition of unit B, made once per world in the world's own session."""
    from sqlalchemy.orm import object_session

    from server.models import Petition
    from server.petitions import service

    session = object_session(world.b)
    assert session is not None
    found = session.exec(select(Petition).where(Petition.unit_id == world.b.id)).first()  # type: ignore[attr-defined]
    if found is not None:
        return found
    return service.create_petition(
        session=session,  # type: ignore[arg-type]
        settings=Settings(environment="test", database_url="sqlite://"),
        unit_id=world.b.id,  # type: ignore[arg-type]
        category="tthc",
        content=f"Phản ánh của B {B_MARKER}",
        dossier_code=f"HS-{B_MARKER}",  # the API answer carries no content, but the dossier code
        source="form",
        actor="citizen",
        contact=service.Contact(email="b-citizen@example.vn"),
    )


AUTH_DEPENDENCIES = {auth_deps.get_current_user, auth_deps.get_reader, petition_reader}
#: Other credentials, each tested where it is defined: kiosk devices (a bearer token fixes the device's own counter;
#: tests/server/ingest, tests/server/kiosks) and `POST /api/v1/visits` (a visits key, or a counter user's session
#: with its CSRF header, in a JSON body the generator does not fill; a counter outside the key's or user's subtree
#: is 403: tests/server/visits).
#: `POST /api/v1/petitions` takes a visits key and a JSON body too (a unit outside the key's subtree is `invalid`:
#: tests/server/petitions); so does `POST /api/v1/dossiers` (a unit or a stored dossier outside the key's subtree is
#: an `invalid` item: tests/server/dossiers).
OTHER_CREDENTIALS = {
    get_device,
    get_ingest_device,
    get_device_for_reading,
    visit_creator,
    petition_importer,
    integration_key,
}


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)


def is_protected(dependant: Dependant) -> bool:
    """Whether a route needs a login session or a read key (directly or through `require_role`)."""
    return any(
        call in AUTH_DEPENDENCIES or getattr(call, "__name__", "").startswith("require_role")
        for call in _calls(dependant)
    )


@dataclass(frozen=True)
class RouteCase:
    method: str
    path: str
    dependant: Dependant

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    def takes_b(self) -> bool:
        """Whether the generator puts one of B's identifiers into the request."""
        return any(name in B_VALUES for names in self.parameter_names().values() for name in names)

    def parameter_names(self) -> dict[str, list[str]]:
        """The request's parameters: the route's own and its dependencies' (a dependency may read `unit` itself)."""
        ds = list(_dependants(self.dependant))
        return {
            "path": list(dict.fromkeys(p.name for d in ds for p in d.path_params)),
            "query": list(dict.fromkeys(p.alias for d in ds for p in d.query_params)),
            "body": list(dict.fromkeys(name for d in ds for p in d.body_params for name in _form_fields(p))),
        }


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for sub in dependant.dependencies:
        yield from _dependants(sub)


def _form_fields(param: Any) -> list[str]:
    """A body parameter's form fields: its own name, or each field of a form model (`Annotated[Model, Form()]`)."""
    model = param.field_info.annotation
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
    return [param.alias]


def route_cases(app: FastAPI) -> list[RouteCase]:
    """Every (method, path) of the app, flattened through included routers."""
    cases = []
    for context in iter_route_contexts(app.routes):
        dependant = getattr(context, "dependant", None)
        methods = context.methods or set()
        if dependant is None or context.path is None:
            continue
        for method in sorted(methods - {"HEAD"}):
            cases.append(RouteCase(method, context.path, dependant))
    return cases


def _app() -> FastAPI:
    from server.app import create_app
    from server.config import Settings

    return create_app(Settings(environment="test", database_url="sqlite://"))


def protected_cases() -> list[RouteCase]:
    cases = []
    for case in route_cases(_app()):
        if (case.method, case.path) in PUBLIC_ROUTES | SELF_ONLY_ROUTES:
            continue
        if is_protected(case.dependant):
            cases.append(case)
    return cases


def test_every_route_is_public_or_needs_a_login() -> None:
    unprotected = []
    for case in route_cases(_app()):
        if (case.method, case.path) in PUBLIC_ROUTES:
            continue
        calls = set(_calls(case.dependant))
        if not is_protected(case.dependant) and not calls & OTHER_CREDENTIALS:
            unprotected.append(case.id)
    assert unprotected == [], "add an auth dependency, or list the route in PUBLIC_ROUTES on purpose"


def test_every_protected_route_is_covered_by_the_generator() -> None:
    cases = protected_cases()
    paths = {c.path for c in cases}
    # The generator really sees the surfaces (a broken route walk would make the other tests vacuous).
    assert {"/dashboard", "/dashboard/comments", "/exports/monthly.csv", "/exports/monthly.pdf"} <= paths
    assert any(p.startswith("/admin") for p in paths)
    unknown = {
        f"{case.id}: {kind} {name}"
        for case in cases
        for kind, names in case.parameter_names().items()
        for name in names
        if name not in B_VALUES and name not in NEUTRAL_VALUES and not name.startswith("file")
    }
    assert unknown == set(), "teach B_VALUES or NEUTRAL_VALUES what these parameters mean"


@pytest.fixture
def world(session: Session) -> World:
    return build_world(session)


def _request(client: TestClient, case: RouteCase, world: World, csrf: str, headers: dict[str, str]) -> Any:
    def value(name: str) -> Any:
        if name == "csrf_token":
            return csrf
        if name in B_VALUES:
            return B_VALUES[name](world)
        return NEUTRAL_VALUES[name]

    names = case.parameter_names()
    path = case.path
    for name in names["path"]:
        path = path.replace("{" + name + "}", str(value(name)))
    query = {n: value(n) for n in names["query"] if n not in ("lang",) and value(n) is not None}
    hdrs = {"accept": "application/json", "X-CSRF-Token": csrf, **headers}
    if case.method == "GET":
        return client.get(path, params=query, headers=hdrs, follow_redirects=False)
    form = {n: value(n) for n in names["body"] if not n.startswith("file")}
    files = {n: ("b.csv", f"{B_MARKER}\n".encode(), "text/csv") for n in names["body"] if n.startswith("file")}
    return client.request(
        case.method, path, params=query, data=form, files=files or None, headers=hdrs, follow_redirects=False
    )


def _assert_denied(response: Any, case: RouteCase, who: str, *, strict: bool) -> None:
    body = response.text
    assert not (response.status_code == 200 and B_MARKER in body), f"{who}: {case.id} leaked B's data"
    assert B_MARKER not in body, f"{who}: {case.id} answered {response.status_code} with B's data"
    assert response.status_code not in (301, 302, 303, 307), f"{who}: {case.id} changed something ({body[:200]})"
    if strict:
        assert response.status_code in (403, 404), f"{who}: {case.id} → {response.status_code}: {body[:300]}"
        stopped_by_csrf = "form has expired" in body or "Biểu mẫu đã hết hạn" in body  # the API's words, a page's
        assert not stopped_by_csrf, f"{who}: {case.id} was only stopped by the CSRF check"


def test_manager_of_a_gets_403_or_404_for_everything_of_b(client: TestClient, world: World) -> None:
    csrf = logins.login(client, world.manager_a)
    cases = protected_cases()
    assert len(cases) >= 8
    for case in cases:
        response = _request(client, case, world, csrf, {})
        own = (case.method, case.path) in OWN_UNIT_ROUTES
        assert not (own and case.takes_b()), f"{case.id} takes an identifier: it is not an own-unit route"
        _assert_denied(response, case, "manager A", strict=not own)
        if own:
            assert response.status_code == 200, f"manager A: {case.id} → {response.status_code}"


def test_officer_of_a_never_sees_b(client: TestClient, world: World) -> None:
    csrf = logins.login(client, world.officer_user)
    for case in protected_cases():
        # The officer's own page takes no identifier at all; everything naming B must be refused.
        _assert_denied(_request(client, case, world, csrf, {}), case, "officer A", strict=case.takes_b())


def test_read_key_of_a_never_sees_b(client: TestClient, world: World) -> None:
    auth = {"Authorization": f"Bearer {world.key_a_token}"}
    for case in protected_cases():
        response = _request(client, case, world, "", auth)
        _assert_denied(response, case, "read key A", strict=False)
        assert response.status_code in (401, 403, 404), f"read key A: {case.id} → {response.status_code}"


def test_the_generator_would_notice_a_leak(client: TestClient, world: World) -> None:
    """Control: B's own manager does get B's data through the same generated requests (the markers are real)."""
    csrf = logins.login(client, world.manager_b)
    leaked = [
        case.id
        for case in protected_cases()
        if case.method == "GET" and B_MARKER in _request(client, case, world, csrf, {}).text
    ]
    assert {
        "GET /dashboard",
        "GET /dashboard/comments",
        "GET /dashboard/fields/{field_code}",
        "GET /console/visits/{token}",
        "GET /dashboard/appraisal",
        "GET /petitions/{petition_id}",
        "GET /api/v1/petitions/{petition_id}",
    } <= set(leaked)


def test_an_officer_can_neither_register_for_a_colleague_nor_see_other_visits_tokens(
    client: TestClient, session: Session, world: World
) -> None:
    """Issue 18: the appraisal counts a visit's rating for the officer it names, so an officer's session may name no
    one else (403), and the console shows no token of a visit the officer did not register (a colleague's, the
    one-stop system's), so nobody can rate a citizen's visit before the citizen does."""
    colleague = factories.officer(session, world.a1, code="W-A1-CB2")
    colleague_user = logins.user(session, "officer", world.a1, username="w-colleague", officer=colleague)
    colleague_visit = visit_factories.visit(session, world.counter_a1, officer=colleague, created_by=colleague_user)
    visits_key = visit_factories.api_key(session, world.a)
    one_stop = client.post(
        "/api/v1/visits",
        json={"counter": world.counter_a1.code, "field": "land", "officer": colleague.code},
        headers={"Authorization": f"Bearer {visits_key}"},
    )
    assert one_stop.status_code == 201
    before = len(session.exec(select(Visit)).all())
    csrf = logins.login(client, world.officer_user)
    for named in (colleague.code, world.officer_b.code):
        response = client.post(
            "/api/v1/visits",
            json={"counter": world.counter_a1.code, "field": "land", "officer": named},
            headers={"X-CSRF-Token": csrf},
        )
        assert response.status_code == 403, response.text  # never 422: no hint whether the code exists
    assert len(session.exec(select(Visit)).all()) == before
    page = client.get("/console")
    assert page.status_code == 200
    for token in (colleague_visit.token, one_stop.json()["token"], world.visit_b.token):
        assert token not in page.text
        assert client.get(f"/console/visits/{token}").status_code == 404
