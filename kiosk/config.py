"""The kiosk's settings: one typed object, from `HAILONG_KIOSK_<NAME>` variables and command-line options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kiosk import CHECKOUT_ROOT


class KioskSettings(BaseSettings):
    """Configuration of one kiosk (every field can be set as `HAILONG_KIOSK_<NAME>`)."""

    model_config = SettingsConfigDict(env_prefix="HAILONG_KIOSK_", extra="ignore")

    server_url: str = Field("http://127.0.0.1:8000", description="The central server the kiosk forwards ratings to")
    data_dir: Path = Field(CHECKOUT_ROOT / "var" / "kiosk", description="Holds the outbox database (outbox.db)")
    host: str = Field("127.0.0.1", description="Address the touch UI listens on (Chromium on the same machine)")
    port: int = Field(8001, ge=1, le=65535, description="Port of the touch UI")
    pin: str = Field("1234", min_length=4, max_length=12, description="Staff PIN for the status and set-up screen")
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone of times shown on the kiosk")
    idle_reset_seconds: float = Field(30, gt=0, le=600, description="A half-finished rating is dropped after this")
    thanks_seconds: int = Field(5, ge=1, le=60, description="How long the thanks screen stays")
    indicator_seconds: float = Field(5, gt=0, le=600, description="How often the sync corner refreshes itself")
    pin_lock_seconds: int = Field(300, ge=1, le=86_400, description="How long 5 wrong staff PINs lock the keypad")
    ui_poll_ms: int = Field(500, ge=100, le=10_000, description="How often the idle screen asks for a started visit")
    visit_poll_seconds: float = Field(1.0, gt=0, le=60, description="How often the central server is asked for visits")
    heartbeat_seconds: float = Field(30, gt=0, le=3600, description="How often the kiosk reports its outbox")
    batch_size: int = Field(500, ge=1, le=500, description="Most ratings per delivery")
    retry_base_seconds: float = Field(1.0, gt=0, le=60, description="First retry delay (doubles, with jitter)")
    retry_max_seconds: float = Field(60.0, gt=0, le=3600, description="Longest retry delay")
    request_timeout_seconds: float = Field(15.0, gt=0, le=300, description="Timeout of one delivery")
    keep_sent_days: int = Field(30, ge=1, le=3650, description="Delivered ratings stay in the outbox this long")
    clock_offset_seconds: float = Field(
        0,
        ge=-10 * 365 * 86400,
        le=10 * 365 * 86400,
        description="Fault injection only: run the kiosk's clock this many seconds ahead (negative: behind)",
    )

    @field_validator("server_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("server_url must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("pin")
    @classmethod
    def _digits(cls, value: str) -> str:
        if not value.isdigit():
            raise ValueError("the staff PIN must be digits (it is typed on an on-screen keypad)")
        return value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except Exception as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        """The kiosk's display time zone."""
        return ZoneInfo(self.timezone)

    def now(self) -> datetime:
        """The kiosk's clock (the machine's, shifted by `clock_offset_seconds` when a test asks for a wrong one)."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset_seconds)

    @property
    def outbox_path(self) -> Path:
        """The outbox database file."""
        return self.data_dir / "outbox.db"
