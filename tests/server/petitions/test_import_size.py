"""`POST /api/v1/petitions` takes a full batch (500 petitions) of realistic Vietnamese content, as JSON clients send
it (`\\uXXXX` escapes), and refuses a body over its cap with 413 before anything is written."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from server.auth.service import create_api_key
from server.hardening import ROUTE_BODY_LIMITS
from server.models import Petition
from server.petitions import service
from server.petitions.api import MAX_IMPORT
from tests import factories
from tests.server.dossiers.helpers import petition_item

SENTENCE = (
    "Cán bộ tiếp nhận hồ sơ thiếu niềm nở, hướng dẫn không đầy đủ; tôi phải đi lại nhiều lần mới nộp được hồ sơ "
    "đăng ký đất đai. Đề nghị đơn vị chấn chỉnh thái độ phục vụ và niêm yết rõ thủ tục. "
)


def _content(i: int) -> str:
    """A petition of the longest content allowed, in ordinary Vietnamese."""
    return (f"Phản ánh số {i}: " + SENTENCE * 40)[: service.MAX_CONTENT]


def _post(client: TestClient, key: str, items: list[dict[str, object]]) -> tuple[int, bytes, object]:
    body = json.dumps({"petitions": items}).encode()  # ensure_ascii: every Vietnamese letter as \uXXXX
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    response = client.post("/api/v1/petitions", content=body, headers=headers)
    return response.status_code, body, response.json()


def test_a_full_batch_of_vietnamese_petitions_is_accepted(client: TestClient, session: Session) -> None:
    root = factories.unit(session, code="PS-ROOT", name="Tỉnh")
    factories.unit(session, root, code="PS-UNIT", name="Phường Tân Lập")
    _, key = create_api_key(session=session, kind="visits", unit=root)
    items = [
        petition_item("PS-UNIT", answered=None, content=_content(i), dossier_code=f"000.00.H12-{i:04d}")
        for i in range(MAX_IMPORT)
    ]
    status, body, answer = _post(client, key, items)
    assert len(body) > 4 * 1024 * 1024  # far over the ordinary 64 KB cap
    assert status == 200, answer
    assert {r["status"] for r in answer["results"]} == {"created"}  # type: ignore[index]
    assert session.exec(select(func.count()).select_from(Petition)).one() == MAX_IMPORT


def test_a_body_over_the_cap_is_refused_and_writes_nothing(client: TestClient, session: Session) -> None:
    _, key = create_api_key(session=session, kind="visits", unit=factories.unit(session, code="PS-ROOT"))
    # 500 items of 4,000 letters that all need an escape (6 bytes each): about 12 MB.
    items = [petition_item("PS-ROOT", answered=None, content="ệ" * service.MAX_CONTENT) for _ in range(MAX_IMPORT)]
    status, body, answer = _post(client, key, items)
    assert len(body) > ROUTE_BODY_LIMITS["/api/v1/petitions"]
    assert status == 413 and "KB" in answer["detail"]  # type: ignore[index]
    assert session.exec(select(func.count()).select_from(Petition)).one() == 0
