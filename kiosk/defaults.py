"""What the kiosk offers before it has heard from the central server: the default fields, reasons and scale.

Once paired, every heartbeat brings the central store's current lists, which replace these.
"""

from __future__ import annotations

from server.contracts import ChoiceInfo, LevelInfo

DEFAULT_LEVELS = [
    LevelInfo(level=4, name_vi="Rất hài lòng", name_en="Very satisfied", satisfied=True),
    LevelInfo(level=3, name_vi="Hài lòng", name_en="Satisfied", satisfied=True),
    LevelInfo(level=2, name_vi="Bình thường", name_en="Neutral", satisfied=False),
    LevelInfo(level=1, name_vi="Không hài lòng", name_en="Dissatisfied", satisfied=False),
]

DEFAULT_REASONS = [
    ChoiceInfo(code=code, name_vi=vi, name_en=en)
    for code, vi, en in [
        ("late", "Trả kết quả trễ hẹn", "Result not returned on the promised date"),
        ("extra_documents", "Yêu cầu bổ sung hồ sơ nhiều lần", "Asked for extra documents more than once"),
        ("attitude", "Thái độ phục vụ chưa tốt, gây phiền hà, sách nhiễu", "Poor attitude, obstruction or harassment"),
        ("guidance", "Hướng dẫn chưa rõ ràng", "Unclear guidance"),
        ("waiting", "Thời gian chờ đợi lâu", "Long wait at the counter"),
        ("fees", "Thu phí, lệ phí không đúng quy định", "Fees not as regulated"),
        ("facilities", "Cơ sở vật chất chưa đáp ứng", "Inadequate facilities"),
        ("other", "Khác", "Other"),
    ]
]

DEFAULT_FIELDS = [
    ChoiceInfo(code=code, name_vi=vi, name_en=en)
    for code, vi, en in [
        ("land", "Đất đai", "Land"),
        ("construction", "Xây dựng", "Construction"),
        ("investment", "Đầu tư", "Investment"),
        ("business", "Đăng ký kinh doanh", "Business registration"),
        ("labour_social", "Lao động – Thương binh và Xã hội", "Labour, invalids and social affairs"),
        ("justice", "Tư pháp – Hộ tịch", "Justice and civil status"),
        ("certification", "Chứng thực", "Certification"),
        ("tax", "Thuế", "Tax"),
        ("customs", "Hải quan", "Customs"),
        ("transport", "Giao thông vận tải", "Transport"),
        ("agriculture_environment", "Nông nghiệp và Môi trường", "Agriculture and environment"),
        ("health", "Y tế", "Health"),
        ("education", "Giáo dục và Đào tạo", "Education"),
        ("other", "Khác", "Other"),
    ]
]
