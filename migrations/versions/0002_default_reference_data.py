"""Default reference data from the provincial resolution and national practice (docs/DOMAIN.md).

Every new database gets the rating scale, the follow-up reasons, the procedure fields, the target groups and
their milestones. They are ordinary rows: administrators edit them afterwards. The data is frozen here on
purpose (a migration must not change meaning when application code does).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCALE = [
    (4, "Rất hài lòng", "Very satisfied", True),
    (3, "Hài lòng", "Satisfied", True),
    (2, "Bình thường", "Neutral", False),
    (1, "Không hài lòng", "Dissatisfied", False),
]

REASONS = [
    ("late", "Trả kết quả trễ hẹn", "Result not returned on the promised date"),
    ("extra_documents", "Yêu cầu bổ sung hồ sơ nhiều lần", "Asked for extra documents more than once"),
    ("attitude", "Thái độ phục vụ chưa tốt, gây phiền hà, sách nhiễu", "Poor attitude, obstruction or harassment"),
    ("guidance", "Hướng dẫn chưa rõ ràng", "Unclear guidance"),
    ("waiting", "Thời gian chờ đợi lâu", "Long wait at the counter"),
    ("fees", "Thu phí, lệ phí không đúng quy định", "Fees not as regulated"),
    ("facilities", "Cơ sở vật chất chưa đáp ứng", "Inadequate facilities"),
    ("other", "Khác", "Other"),
]

GROUPS = [
    ("all", "Tất cả lĩnh vực", "All fields"),
    ("lci", "Đất đai, xây dựng, đầu tư", "Land, construction and investment"),
    ("health_education", "Y tế và giáo dục", "Health and education"),
]

# (group, year_from, threshold)
TARGETS = [
    ("all", 2025, 0.90),
    ("all", 2030, 0.95),
    ("lci", 2025, 0.80),
    ("lci", 2030, 0.85),
    ("health_education", 2025, 0.85),
    ("health_education", 2030, 0.90),
]

# (code, vi, en, groups)
FIELDS = [
    ("land", "Đất đai", "Land", ["lci"]),
    ("construction", "Xây dựng", "Construction", ["lci"]),
    ("investment", "Đầu tư", "Investment", ["lci"]),
    ("business", "Đăng ký kinh doanh", "Business registration", []),
    ("labour_social", "Lao động – Thương binh và Xã hội", "Labour, invalids and social affairs", []),
    ("justice", "Tư pháp – Hộ tịch", "Justice and civil status", []),
    ("certification", "Chứng thực", "Certification", []),
    ("tax", "Thuế", "Tax", []),
    ("customs", "Hải quan", "Customs", []),
    ("transport", "Giao thông vận tải", "Transport", []),
    ("agriculture_environment", "Nông nghiệp và Môi trường", "Agriculture and environment", []),
    ("health", "Y tế", "Health", ["health_education"]),
    ("education", "Giáo dục và Đào tạo", "Education", ["health_education"]),
    ("other", "Khác", "Other", []),
]

scale_level = sa.table(
    "scale_level", sa.column("level"), sa.column("name_vi"), sa.column("name_en"), sa.column("satisfied")
)
reason = sa.table(
    "reason", sa.column("code"), sa.column("name_vi"), sa.column("name_en"), sa.column("sort_order"), sa.column("active")
)
target_group = sa.table("target_group", sa.column("id"), sa.column("code"), sa.column("name_vi"), sa.column("name_en"))
target = sa.table("target", sa.column("group_id"), sa.column("year_from"), sa.column("threshold"))
field = sa.table(
    "field",
    sa.column("id"),
    sa.column("code"),
    sa.column("name_vi"),
    sa.column("name_en"),
    sa.column("sort_order"),
    sa.column("active"),
)
field_group = sa.table("field_group", sa.column("field_id"), sa.column("group_id"))


def upgrade() -> None:
    bind = op.get_bind()
    op.bulk_insert(scale_level, [dict(level=lv, name_vi=vi, name_en=en, satisfied=s) for lv, vi, en, s in SCALE])
    op.bulk_insert(
        reason,
        [dict(code=c, name_vi=vi, name_en=en, sort_order=i, active=True) for i, (c, vi, en) in enumerate(REASONS)],
    )
    op.bulk_insert(target_group, [dict(code=c, name_vi=vi, name_en=en) for c, vi, en in GROUPS])
    op.bulk_insert(
        field,
        [dict(code=c, name_vi=vi, name_en=en, sort_order=i, active=True) for i, (c, vi, en, _) in enumerate(FIELDS)],
    )
    group_ids = dict(bind.execute(sa.select(target_group.c.code, target_group.c.id)).all())
    field_ids = dict(bind.execute(sa.select(field.c.code, field.c.id)).all())
    op.bulk_insert(target, [dict(group_id=group_ids[g], year_from=y, threshold=t) for g, y, t in TARGETS])
    op.bulk_insert(
        field_group,
        [dict(field_id=field_ids[c], group_id=group_ids[g]) for c, _, _, groups in FIELDS for g in groups],
    )


def downgrade() -> None:
    # Only the rows this migration added, and only while nothing refers to them.
    bind = op.get_bind()
    field_codes = [c for c, *_ in FIELDS]
    group_codes = [c for c, *_ in GROUPS]
    field_ids = [r[0] for r in bind.execute(sa.select(field.c.id).where(field.c.code.in_(field_codes)))]
    group_ids = [r[0] for r in bind.execute(sa.select(target_group.c.id).where(target_group.c.code.in_(group_codes)))]
    op.execute(field_group.delete().where(field_group.c.field_id.in_(field_ids)))
    op.execute(target.delete().where(target.c.group_id.in_(group_ids)))
    op.execute(field.delete().where(field.c.id.in_(field_ids)))
    op.execute(target_group.delete().where(target_group.c.id.in_(group_ids)))
    op.execute(reason.delete().where(reason.c.code.in_([c for c, *_ in REASONS])))
    op.execute(scale_level.delete().where(scale_level.c.level.in_([lv for lv, *_ in SCALE])))
