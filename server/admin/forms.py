"""The administration forms as pydantic models: a route takes one (`Annotated[UnitForm, Form()]`) and calls
`form.check(lang)` first, so that a form failing its model is refused like any other bad input of the page, by the
route's own `except AppError` branch: 422, the page with the form filled in again and one message in its language
(rather than FastAPI's validation error, which only the generic error page could answer)."""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidatorFunctionWrapHandler,
    model_validator,
)

from server.errors import Invalid
from server.i18n import translate


class AdminForm(BaseModel):
    """A form of the administration pages; the fields it does not name (the CSRF token) are ignored."""

    model_config = ConfigDict(extra="ignore")
    _problems: list[Any] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_problems(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        """A form that fails keeps its values as sent and its errors, for `check()` to report in the page."""
        try:
            return handler(data)
        except ValidationError as exc:
            if not isinstance(data, dict):
                raise
            form = cls.model_construct(**{k: v for k, v in data.items() if k in cls.model_fields})
            form._problems = exc.errors()
            return form

    def check(self, lang: str) -> None:
        """Raise `Invalid` (422) naming the first field that failed, by its label in `lang` (Vietnamese first)."""
        if not self._problems:
            return
        err = self._problems[0]
        loc = tuple(err.get("loc", ()))
        info = type(self).model_fields.get(str(loc[0])) if loc else None
        label = translate(info.title or str(loc[0]), lang) if info and loc else (str(loc[0]) if loc else "?")
        limit = (err.get("ctx") or {}).get("max_length")
        if err.get("type") in ("string_too_long", "too_long") and limit is not None:
            raise Invalid("{field}: too long (at most {limit}).", field=label, limit=limit)
        raise Invalid("{field}: invalid value.", field=label)


class UnitFieldsForm(AdminForm):
    """What a unit's create and edit forms share."""

    name: str = Field("", max_length=1000, title="Tên")
    parent_code: str = Field("", max_length=200, title="Đơn vị cấp trên")
    level: str = Field("", max_length=200, title="Cấp (ví dụ: tỉnh, xã, phường)")


class UnitCreateForm(UnitFieldsForm):
    unit_code: str = Field("", max_length=200, title="Mã")


class UnitEditForm(UnitFieldsForm):
    active: str = Field("", max_length=8, title="Đơn vị đang hoạt động")


class CounterFieldsForm(AdminForm):
    fields: list[str] | None = Field(None, title="Lĩnh vực")


class FieldForm(AdminForm):
    name_vi: str = Field("", max_length=1000, title="Tên tiếng Việt")
    name_en: str = Field("", max_length=1000, title="Tên tiếng Anh")
    groups: list[str] = Field([], title="Nhóm")
    active: str = Field("", max_length=8, title="Đang dùng")


class TargetDeleteForm(AdminForm):
    group_code: str = Field("", max_length=64, title="Nhóm")
    year_from: str = Field("", max_length=16, title="Từ năm")


class TargetForm(TargetDeleteForm):
    threshold: str = Field("", max_length=16, title="Chỉ tiêu (%)")


class OfficerForm(AdminForm):
    officer_code: str = Field("", max_length=200, title="Mã")
    name: str = Field("", max_length=1000, title="Họ và tên")
    unit_code: str = Field("", max_length=200, title="Mã đơn vị")


class ActiveForm(AdminForm):
    """Activate (any value) or deactivate (absent); `confirm=yes` once the confirmation page was answered."""

    active: str = Field("", max_length=8, title="Đang hoạt động")
    confirm: str = Field("", max_length=8, title="Xác nhận")


class PasswordForm(AdminForm):
    password: str = Field("", max_length=1024, title="Mật khẩu (ít nhất 10 ký tự)")


class UserCreateForm(PasswordForm):
    username: str = Field("", max_length=200, title="Tên đăng nhập")
    display_name: str = Field("", max_length=1000, title="Họ và tên")
    role: str = Field("", max_length=16, title="Vai trò")
    unit_code: str = Field("", max_length=200, title="Mã đơn vị")
    officer_code: str = Field("", max_length=200, title="Mã cán bộ (nếu là cán bộ một cửa)")


class PairingCodeForm(AdminForm):
    counter_code: str = Field("", max_length=200, title="Quầy")


class ConfirmForm(AdminForm):
    """`confirm=yes` once the confirmation page was answered."""

    confirm: str = Field("", max_length=8, title="Xác nhận")


class ApiKeyForm(AdminForm):
    kind: str = Field("", max_length=16, title="Loại")
    unit_code: str = Field("", max_length=200, title="Mã đơn vị")
    label: str = Field("", max_length=255, title="Ghi chú")


class PublicationForm(AdminForm):
    unit_code: str = Field("", max_length=200, title="Mã đơn vị")
    choice: str = Field("", max_length=16, title="Thiết lập")


class MinSampleForm(AdminForm):
    min_sample: str = Field("", max_length=16, title="Cỡ mẫu tối thiểu để công khai")
