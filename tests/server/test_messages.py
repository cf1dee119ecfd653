"""The services' errors in Vietnamese on Vietnamese pages (server/messages.py): the administration forms and the
friendly error page."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from server.admin import service
from server.errors import AppError
from server.messages import vietnamese


def _raised(call: Callable[[], object]) -> str:
    with pytest.raises(AppError) as info:
        call()
    return info.value.message


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: service.check_code("a b", "unit"), "Mã đơn vị phải có 1–64 ký tự, không có dấu cách"),
        (lambda: service.check_code("", "officer"), "Mã cán bộ phải có 1–64 ký tự, không có dấu cách"),
        (lambda: service.check_name("", "Vietnamese"), "Tên tiếng Việt phải có 1–255 ký tự"),
        (
            lambda: service.parse_percent("chín mươi"),
            "Ngưỡng 'chín mươi' không phải là một số phần trăm (ví dụ 90 hoặc 92,5)",
        ),
        (lambda: service.parse_percent("120"), "Ngưỡng phải từ 0 đến 100 %"),
        (lambda: service.parse_year("năm"), "'năm' không phải là một năm"),
        (lambda: service.parse_year("1999"), "Năm phải từ 2000 đến 2100"),
    ],
)
def test_service_errors_read_in_vietnamese(call: Callable[[], object], expected: str) -> None:
    assert vietnamese(_raised(call)) == expected


@pytest.mark.parametrize(
    ("english", "expected"),
    [
        ("unit 'X1' exists already", "Đơn vị 'X1' đã có"),
        ("unknown counter 'Q-9'", "Không có quầy 'Q-9'"),
        ("unknown target group 'zz'; known groups: all, lci", "Không có nhóm chỉ tiêu 'zz'; các nhóm: all, lci"),
        ("password must be at least 10 characters", "Mật khẩu phải có ít nhất 10 ký tự"),
        (
            "cannot move unit 'A' under its own subtree ('A1')",
            "Không thể chuyển đơn vị 'A' vào bên dưới chính nó ('A1')",
        ),
        ("line 4: name is longer than 255 characters", "Dòng 4: cột name dài quá 255 ký tự"),
        ("line 2: unit 'B' appears twice (first on line 1)", "Dòng 2: đơn vị 'B' xuất hiện hai lần (lần đầu ở dòng 1)"),
        ("line 7: unknown unit 'P'", "Dòng 7: Không có đơn vị 'P'"),
    ],
)
def test_known_messages_keep_their_values(english: str, expected: str) -> None:
    assert vietnamese(english) == expected


def test_an_unknown_message_is_kept_as_it_is() -> None:
    assert vietnamese("something new went wrong") == "something new went wrong"
    assert vietnamese("line 3: something new") == "Dòng 3: something new"


@pytest.mark.parametrize(
    ("english", "expected"),
    [
        ("your account does not have access to this page", "Tài khoản của bạn không được mở trang này"),
        (
            "an officer may register visits only in their own name",
            "Cán bộ chỉ được đăng ký lượt tiếp nhận dưới tên của chính mình",
        ),
        (
            "counter 'Q1' is outside unit 'U' and its subtree",
            "Quầy 'Q1' không thuộc đơn vị 'U' và các đơn vị cấp dưới",
        ),
        (
            "period '2026-01-09..2026-01-01': the range ends before it starts",
            "Kỳ '2026-01-09..2026-01-01': ngày kết thúc trước ngày bắt đầu",
        ),
        ("the request body is larger than 64 KB", "Dữ liệu gửi lên lớn hơn 64 KB"),
        (
            "format 'doc' is not valid: use csv, xlsx or pdf",
            "Định dạng 'doc' không hợp lệ: hãy dùng csv, xlsx hoặc pdf",
        ),
    ],
)
def test_staff_page_errors_read_in_vietnamese(english: str, expected: str) -> None:
    assert vietnamese(english) == expected
