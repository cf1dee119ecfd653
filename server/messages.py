"""The services' error messages in Vietnamese, for the people's pages.

The services raise their errors in English (the API, the CLI and the logs speak English). A Vietnamese page (the
administration forms, the friendly error page of the dashboard, exports, login and counter console) shows them in
Vietnamese: each known message is matched by its pattern and rewritten with the same values; a CSV
import's `line N: ` prefix becomes `Dòng N: ` in front of the translated rest. An unknown message stays as it is
(English) rather than being lost.
"""

from __future__ import annotations

import re

#: What `check_code` / `check_name` (server.admin.service) are told they check.
_WHAT = {
    "unit": "đơn vị",
    "officer": "cán bộ",
    "Vietnamese": "tiếng Việt",
    "English": "tiếng Anh",
    "start date": "Từ ngày",
    "end date": "Đến ngày",
}
_Q = r"(?P<q>'[^']*'|\"[^\"]*\")"  # a quoted value, as `!r` writes it
_Q2 = _Q.replace("?P<q>", "?P<q2>")  # a second one in the same message


def _what(value: str) -> str:
    return _WHAT.get(value, value)


#: (pattern of the English message, Vietnamese template over the pattern's named groups).
_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(p), vi)
    for p, vi in [
        (
            r"(?P<what>\w+) code must be 1-64 characters without spaces",
            "Mã {what} phải có 1–64 ký tự, không có dấu cách",
        ),
        (r"(?P<what>\w+) name must be 1-255 characters", "Tên {what} phải có 1–255 ký tự"),
        (rf"unit {_Q} exists already", "Đơn vị {q} đã có"),
        (rf"officer {_Q} exists already", "Cán bộ {q} đã có"),
        (rf"user {_Q} exists already", "Tài khoản {q} đã có"),
        (rf"unknown unit {_Q}", "Không có đơn vị {q}"),
        (rf"unknown counter {_Q}", "Không có quầy {q}"),
        (rf"unknown officer {_Q}", "Không có cán bộ {q}"),
        (rf"unknown field {_Q}", "Không có lĩnh vực {q}"),
        (rf"unknown or inactive field {_Q}", "Không có lĩnh vực {q} hoặc lĩnh vực đã ngừng dùng"),
        (rf"unknown target group {_Q}; known groups: (?P<known>.*)", "Không có nhóm chỉ tiêu {q}; các nhóm: {known}"),
        (rf"unknown target group {_Q}", "Không có nhóm chỉ tiêu {q}"),
        (r"unknown user (?P<n>\d+)", "Không có tài khoản số {n}"),
        (r"unknown kiosk device (?P<n>\d+)", "Không có màn hình số {n}"),
        (r"unknown API key (?P<n>\d+)", "Không có khoá API số {n}"),
        (rf"no milestone {_Q} from (?P<year>\d+)", "Không có mốc chỉ tiêu {q} từ năm {year}"),
        (
            rf"threshold {_Q} is not a number of percent \(e\.g\. 90 or 92,5\)",
            "Ngưỡng {q} không phải là một số phần trăm (ví dụ 90 hoặc 92,5)",
        ),
        (r"threshold must be between 0 and 100 %", "Ngưỡng phải từ 0 đến 100 %"),
        (
            r"threshold must be a fraction above 0 and at most 1 \(0\.9 for 90 %\), not (?P<t>.*)",
            "Ngưỡng phải lớn hơn 0 và không quá 1 (0,9 là 90 %), không phải {t}",
        ),
        (rf"year {_Q} is not a year", "{q} không phải là một năm"),
        (r"year must be between (?P<a>\d+) and (?P<b>\d+), not (?P<y>.*)", "Năm phải từ {a} đến {b}, không phải {y}"),
        (r"year must be between (?P<a>\d+) and (?P<b>\d+)", "Năm phải từ {a} đến {b}"),
        (r"password must be at least (?P<n>\d+) characters", "Mật khẩu phải có ít nhất {n} ký tự"),
        (r"password is too long", "Mật khẩu quá dài"),
        (r"username must be 1-64 characters without spaces", "Tên đăng nhập phải có 1–64 ký tự, không có dấu cách"),
        (r"role must be one of (?P<roles>.*)", "Vai trò phải là một trong: {roles}"),
        (r"a (?P<role>\w+) needs a unit \(--unit CODE\)", "Tài khoản vai trò {role} cần có đơn vị"),
        (r"kind must be one of (?P<kinds>.*)", "Loại khoá phải là một trong: {kinds}"),
        (rf"counter {_Q} is inactive", "Quầy {q} đã ngừng hoạt động"),
        (
            "this visit has been rated already; it can no longer be cancelled",
            "Lượt này đã được đánh giá; không thể huỷ nữa",
        ),
        (r"name either a device id or a counter code", "Hãy ghi số màn hình hoặc mã quầy"),
        (
            rf"cannot move unit {_Q} under its own subtree \((?P<p>.*)\)",
            "Không thể chuyển đơn vị {q} vào bên dưới chính nó ({p})",
        ),
        (r"the file is larger than 5 MB", "Tệp lớn hơn 5 MB"),
        # The staff pages' errors (dashboard, exports, login, counter console).
        (r"your account does not have access to this page", "Tài khoản của bạn không được mở trang này"),
        (r"your account has no unit; ask an administrator", "Tài khoản của bạn chưa có đơn vị; hãy hỏi quản trị viên"),
        (r"your account may not register visits", "Tài khoản của bạn không được đăng ký lượt tiếp nhận"),
        (
            r"an officer may register visits only in their own name",
            "Cán bộ chỉ được đăng ký lượt tiếp nhận dưới tên của chính mình",
        ),
        (r"your officer record has no unit", "Hồ sơ cán bộ của bạn chưa có đơn vị"),
        (
            r"your account has no unit, so it cannot use the counter console; ask an administrator to assign one",
            "Tài khoản của bạn chưa có đơn vị nên không dùng được màn hình quầy; hãy nhờ quản trị viên gán đơn vị",
        ),
        (
            r"only managers and administrators may read unit figures",
            "Chỉ lãnh đạo và quản trị viên được xem số liệu của đơn vị",
        ),
        (
            r"the login form has expired; reload the page and try again",
            "Biểu mẫu đăng nhập đã hết hạn; hãy tải lại trang và thử lại",
        ),
        (rf"unit {_Q} is outside the units you may see", "Đơn vị {q} nằm ngoài các đơn vị bạn được xem"),
        (
            rf"counter {_Q} is outside unit {_Q2} and its subtree",
            "Quầy {q} không thuộc đơn vị {q2} và các đơn vị cấp dưới",
        ),
        (
            r"there are no units yet; import them under Quản trị → Đơn vị",
            "Chưa có đơn vị nào; hãy nhập danh sách ở Quản trị → Đơn vị",
        ),
        (
            rf"period {_Q} is not valid: use YYYY-MM, YYYY-Qn, YYYY or YYYY-MM-DD\.\.YYYY-MM-DD",
            "Kỳ {q} không hợp lệ: hãy dùng YYYY-MM, YYYY-Qn, YYYY hoặc YYYY-MM-DD..YYYY-MM-DD",
        ),
        (rf"period {_Q}: the range ends before it starts", "Kỳ {q}: ngày kết thúc trước ngày bắt đầu"),
        (
            rf"period {_Q}: years from (?P<a>\d+) to (?P<b>\d+) only",
            "Kỳ {q}: chỉ nhận các năm từ {a} đến {b}",
        ),
        (
            rf"period {_Q}: a range may span at most (?P<n>\d+) days",
            "Kỳ {q}: một khoảng thời gian dài tối đa {n} ngày",
        ),
        (
            rf"month {_Q} is not valid: use YYYY-MM, e\.g\. 2026-10 \(or period= for a quarter or year\)",
            "Tháng {q} không hợp lệ: hãy dùng YYYY-MM, ví dụ 2026-10 (hoặc period= cho quý hoặc năm)",
        ),
        (rf"format {_Q} is not valid: use csv, xlsx or pdf", "Định dạng {q} không hợp lệ: hãy dùng csv, xlsx hoặc pdf"),
        (r"the request body is larger than (?P<n>\d+) KB", "Dữ liệu gửi lên lớn hơn {n} KB"),
        (r"the request body did not arrive in time", "Dữ liệu gửi lên không đến kịp; vui lòng thử lại"),
        # The CSV imports (after their `line N: ` prefix).
        (r"expected the header (?P<want>.*), found (?P<got>.*)", "cần dòng tiêu đề {want}, nhưng thấy {got}"),
        (r"expected (?P<want>\d+) columns, found (?P<got>\d+)", "cần {want} cột, nhưng thấy {got}"),
        (r"(?P<column>\w+) is empty", "cột {column} để trống"),
        (r"(?P<column>\w+) is longer than (?P<n>\d+) characters", "cột {column} dài quá {n} ký tự"),
        (
            rf"unit {_Q} appears twice \(first on line (?P<n>\d+)\)",
            "đơn vị {q} xuất hiện hai lần (lần đầu ở dòng {n})",
        ),
        (rf"unit {_Q} cannot be its own parent", "đơn vị {q} không thể là cấp trên của chính nó"),
        (
            rf"parent_code {_Q} is not a known unit nor a unit in this file",
            "parent_code {q} không phải đơn vị đã có, cũng không có trong tệp",
        ),
        (r"parent_code makes a cycle \((?P<chain>.*)\)", "parent_code tạo thành vòng lặp ({chain})"),
        (
            rf"unit {_Q} would be more than (?P<n>\d+) levels deep",
            "đơn vị {q} sẽ nằm sâu quá {n} cấp trong cây đơn vị",
        ),
        (
            rf"unit {_Q} is too deep in the tree \(its path is over (?P<n>\d+) characters\)",
            "Đơn vị {q} nằm quá sâu trong cây đơn vị (đường dẫn dài quá {n} ký tự)",
        ),
        (
            rf"counter {_Q} appears twice \(first on line (?P<n>\d+)\)",
            "quầy {q} xuất hiện hai lần (lần đầu ở dòng {n})",
        ),
        (rf"unit_code {_Q} is not a known unit", "unit_code {q} không phải đơn vị đã có"),
        (
            r"the file is empty; expected a header line: (?P<h>.*)",
            "Tệp trống; cần một dòng tiêu đề: {h}",
        ),
        (r"the file is not valid UTF-16 text \(byte (?P<n>\d+)\)", "Tệp không phải văn bản UTF-16 hợp lệ (byte {n})"),
        (
            r"the file is not UTF-8 or UTF-16 text \(byte (?P<n>\d+)\); save it as CSV UTF-8 or as \.xlsx",
            "Tệp không phải văn bản UTF-8 hay UTF-16 (byte {n}); hãy lưu lại dưới dạng CSV UTF-8 hoặc .xlsx",
        ),
        (
            r"the file is not a readable Excel workbook \(\.xlsx\)",
            "Tệp không phải bảng tính Excel (.xlsx) đọc được",
        ),
        (r"no such import template", "Không có tệp mẫu này"),
        (
            rf"(?P<what>start date|end date) {_Q} is not a date \(YYYY-MM-DD\)",
            "{what} {q} không phải là một ngày (YYYY-MM-DD)",
        ),
        (r"the end date is before the start date", "Đến ngày phải sau Từ ngày"),
        # Petitions (server/petitions): the inbox's steps.
        (r"unknown petition", "Không tìm thấy phản ánh, kiến nghị"),
        (rf"unknown user {_Q}", "Không có tài khoản {q}"),
        (r"only an open petition can be assigned", "Chỉ giao được phản ánh đang mở"),
        (r"that person does not work for the petition's unit", "Người này không thuộc đơn vị của phản ánh"),
        (r"the answer is empty", "Câu trả lời đang để trống"),
        (r"the answer is longer than (?P<n>\d+) characters", "Câu trả lời dài quá {n} ký tự"),
        (r"this petition has been answered already", "Phản ánh này đã được trả lời"),
        (r"only an answered petition can be closed", "Chỉ kết thúc được phản ánh đã trả lời"),
        (r"only the people handling this petition may do that", "Chỉ người xử lý phản ánh được làm việc này"),
        (r"only a manager of the petition's unit may assign it", "Chỉ lãnh đạo đơn vị của phản ánh được giao xử lý"),
        (
            r"only the people handling this petition may see the citizen's contact",
            "Chỉ người xử lý phản ánh được xem liên hệ của người dân",
        ),
        (r"the email address is not valid", "Địa chỉ email không hợp lệ"),
        (r"the phone number is not valid", "Số điện thoại không hợp lệ"),
        (rf"unknown (?P<what>status|category|due filter) {_Q}", "Bộ lọc {q} không hợp lệ"),
        # Public disclosure (server/public, server/admin/publication.py).
        (rf"unit {_Q} is not published", "Đơn vị {q} không được công khai"),
        (r"nothing is published yet", "Chưa có đơn vị nào được công khai"),
        (
            rf"period {_Q}: use a month \(2026-10\), a quarter \(2026-Q3\) or a year \(2026\)",
            "Kỳ {q}: hãy chọn một tháng (2026-10), một quý (2026-Q3) hoặc một năm (2026)",
        ),
        (rf"sort={_Q} is not valid: use rate, name or n", "Cách sắp xếp {q} không hợp lệ: hãy dùng rate, name hoặc n"),
        (
            r"the minimum sample must be between (?P<n>\d+) \(the index's\) and 100000",
            "Cỡ mẫu tối thiểu phải từ {n} (cỡ mẫu của chỉ số) đến 100000",
        ),
        (r"the minimum sample must be a whole number", "Cỡ mẫu tối thiểu phải là một số nguyên"),
        (r"choose publish, withhold or inherit", "Hãy chọn công khai, không công khai hoặc theo đơn vị cấp trên"),
    ]
]
_LINE = re.compile(r"line (?P<n>\d+): (?P<rest>.*)", re.DOTALL)


def vietnamese(message: str) -> str:
    """`message` in Vietnamese when it is a known service error (values kept), else unchanged."""
    line = _LINE.fullmatch(message)
    if line:
        return f"Dòng {line['n']}: {vietnamese(line['rest'])}"
    for pattern, template in _MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            values = found.groupdict()
            if "what" in values:
                values["what"] = _what(values["what"])
            return template.format(**values)
    return message
