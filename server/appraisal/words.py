"""The appraisal's words, shared by the pages, the XLSX and the PDF (Vietnamese source texts; English in
the gettext catalog), and the method explained in plain Vietnamese for the appraisal council."""

from __future__ import annotations

from server.appraisal.schemas import Rules
from server.i18n import translate

STATUS_WORDS = {
    "above": "Cao hơn kỳ vọng",
    "as_expected": "Tương đương kỳ vọng",
    "below": "Thấp hơn kỳ vọng",
    "insufficient_data": "Chưa đủ số đánh giá",
}
REASON_WORDS = {
    "rated_seconds_after_invite": "Đánh giá chỉ vài giây sau khi mời",
    "registered_for_another_officer": "Lượt tiếp nhận do tài khoản cán bộ khác đăng ký",
    "after_hours_burst": "Loạt đánh giá cao nhất ngoài giờ làm việc",
}
WEEKDAY_WORDS = {
    1: "Thứ Hai",
    2: "Thứ Ba",
    3: "Thứ Tư",
    4: "Thứ Năm",
    5: "Thứ Sáu",
    6: "Thứ Bảy",
    7: "Chủ nhật",
}

METHOD_TITLE = "Phương pháp đánh giá"
#: One page, plain words; placeholders are filled from the settings the report used.
METHOD_PARAGRAPHS = (
    "Tỷ lệ hài lòng của một cán bộ là số lượt hài lòng chia cho số lượt đánh giá hợp lệ mà người dân dành cho cán "
    "bộ đó trong kỳ. Lượt bấm bất thường và lượt đánh giá nghi vấn (xem dưới) không được tính.",
    "Mỗi lĩnh vực có độ khó khác nhau: ví dụ đất đai thường có tỷ lệ hài lòng thấp hơn hộ tịch. Vì vậy cán bộ không "
    "được so với tỷ lệ chung của đơn vị, mà với tỷ lệ kỳ vọng: tỷ lệ cán bộ sẽ đạt nếu mỗi lượt đánh giá của mình có "
    "đúng tỷ lệ hài lòng của đơn vị trong lĩnh vực đó (chuẩn hóa gián tiếp). Cán bộ chỉ tiếp nhận hồ sơ đất đai được "
    "so với tỷ lệ đất đai của đơn vị.",
    "Chênh lệch là tỷ lệ của cán bộ trừ tỷ lệ kỳ vọng, kèm khoảng tin cậy 95%: khoảng Wilson của tỷ lệ cán bộ kết hợp "
    "với khoảng Wilson của tỷ lệ từng lĩnh vực của đơn vị (phương pháp MOVER). Số lượt càng ít thì khoảng càng rộng.",
    "Chỉ kết luận «cao hơn kỳ vọng» khi cả khoảng tin cậy của chênh lệch lớn hơn 0, và «thấp hơn kỳ vọng» khi cả "
    "khoảng nhỏ hơn 0. Nếu khoảng chứa 0 thì kết luận là «tương đương kỳ vọng»: khác biệt có thể chỉ do ngẫu nhiên.",
    "Cán bộ có dưới {min_sample} lượt đánh giá hợp lệ vẫn được hiển thị số liệu nhưng ghi «chưa đủ số đánh giá»: "
    "không kết luận, không xếp hạng. Các cán bộ còn lại được xếp hạng theo chênh lệch, từ cao xuống thấp.",
    "Đánh giá nghi vấn là những lượt mà cán bộ có thể đã tác động. Chúng được liệt kê riêng kèm lý do, không bị xóa và "
    "không được tính vào tỷ lệ của cán bộ lẫn tỷ lệ tham chiếu của đơn vị: (1) đánh giá trong vòng {seconds} giây sau "
    "khi một tài khoản bấm «Mời đánh giá»; (2) lượt tiếp nhận mà tài khoản của một cán bộ đăng ký dưới tên cán bộ khác "
    "(hệ thống nay đã chặn việc này); (3) từ {burst_count} lượt đánh giá cao nhất trở lên tại cùng một quầy trong vòng "
    "{burst_minutes} phút, ngoài giờ làm việc ({opens}–{closes}, {days}).",
    "Chỉ số hài lòng chính thức của đơn vị (bảng điều khiển, báo cáo tháng) vẫn tính các lượt nghi vấn: đó là ý kiến "
    "của người dân về đơn vị, và nghi vấn chưa phải là bằng chứng. Chỉ lượt bấm bất thường bị loại khỏi chỉ số.",
)


def method_paragraphs(rules: Rules, *, min_sample: int, lang: str) -> list[str]:
    """The method page's paragraphs in `lang`, with the report's settings filled in."""
    days = ", ".join(translate(WEEKDAY_WORDS[d], lang) for d in rules.opening_weekdays)
    values = {
        "min_sample": min_sample,
        "seconds": f"{rules.rapid_seconds:g}",
        "burst_count": rules.burst_count,
        "burst_minutes": f"{rules.burst_minutes:g}",
        "opens": rules.opening_time.strftime("%H:%M"),
        "closes": rules.closing_time.strftime("%H:%M"),
        "days": days,
    }
    return [translate(text, lang).format(**values) for text in METHOD_PARAGRAPHS]
