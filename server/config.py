"""One typed settings object, read from the environment (and an optional `.env`)."""

from __future__ import annotations

from datetime import time
from functools import cached_property
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from server import PROJECT_ROOT

DEFAULT_SECRET = "dev-only-secret-change-me"
DEFAULT_DATABASE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'hailong.db'}"


class Settings(BaseSettings):
    """Configuration of the central server; every field can be set as `HAILONG_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="HAILONG_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development", description="development | test | production; production refuses default secrets"
    )
    database_url: str = Field(
        DEFAULT_DATABASE_URL,
        validation_alias=AliasChoices("DATABASE_URL", "HAILONG_DATABASE_URL"),
        description="SQLAlchemy URL: sqlite:///path (default, under var/) or postgresql+psycopg://user@host/db",
    )
    secret_key: str = Field(DEFAULT_SECRET, description="Signs CSRF tokens and sessions; must be set in production")
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public address printed in QR codes and rating links (behind a proxy); `hailong serve` defaults "
        "it to the address it listens on",
    )
    timezone: str = Field("Asia/Ho_Chi_Minh", description="Time zone that periods (days, months) are counted in")
    visit_ttl_days: int = Field(30, ge=1, le=400, description="How long a visit's rating link stays valid")
    slip_minutes: int = Field(
        10,
        ge=1,
        le=24 * 60,
        description="The console shows a visit's slip (QR code, rating link) this long after the invitation, and only "
        "until it is rated; later the officer could rate a visit the citizen left unrated",
    )
    pairing_code_ttl_hours: int = Field(24, ge=1, le=24 * 30, description="How long a kiosk pairing code is valid")
    misuse_window_seconds: float = Field(
        3.0, ge=0, le=600, description="Presses at one kiosk closer than this (without a visit) are flagged misuse"
    )
    min_sample: int = Field(30, ge=1, description="Below this many valid ratings a rate is 'insufficient data'")
    max_batch: int = Field(500, ge=1, le=5000, description="Most ratings accepted in one ingest request")
    db_pool_size: int = Field(
        20, ge=1, le=200, description="PostgreSQL connections per worker, kept open (also the requests let in at once)"
    )
    body_timeout_seconds: float = Field(
        10.0, gt=0, le=300, description="A request body making no progress this long is answered 408 (slow uploads)"
    )
    render_processes: int = Field(
        1,
        ge=0,
        le=16,
        description="Processes per worker that render XLSX and PDF files, so a render never slows the worker's other "
        "requests (0: render in the request's thread)",
    )
    dashboard_cache_seconds: float = Field(
        5.0, ge=0, le=300, description="How long a worker reuses a unit's dashboard figures (0: always fresh)"
    )
    report_decree30: bool = Field(
        True,
        description="The PDF report is an administrative document under Decree 30/2020/NĐ-CP (national motto, "
        "issuing body, number and date line, title, signature block); false: figures only, to attach to a unit's own "
        "report",
    )
    report_place: str = Field(
        "", max_length=64, description="Place name of the PDF report's date line (blank: dots to fill in by hand)"
    )
    reference_cache_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="How long a worker reuses the scale, reasons and field codes (0: never)",
    )
    field_order_cache_seconds: float = Field(
        3600.0,
        ge=0,
        le=86400,
        description="How long a worker reuses a counter's field order for its kiosks, the 90-day count of its ratings "
        "per field (a new day counts afresh; 0: every heartbeat counts)",
    )
    # Visits, phone rating and the counter console (server/visits, server/phone).
    phone_failure_limit: int = Field(
        60, ge=1, description="Unknown or expired rating links one address may try within the window before a 429"
    )
    phone_failure_window_seconds: int = Field(
        600, ge=1, le=86400, description="Window over which failed rating-link lookups are counted (per worker)"
    )
    # Public disclosure (server/public): the one set of pages without a login.
    public_cache_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="How long a worker reuses the public pages and data (and proxies may: Cache-Control max-age)",
    )
    public_licence: str = Field("CC BY 4.0", max_length=200, description="Licence of the public data, by name")
    public_licence_url: str = Field(
        "https://creativecommons.org/licenses/by/4.0/", max_length=500, description="Where the licence is written"
    )
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60, description="A login session ends after this idle time")
    session_max_hours: int = Field(12, ge=1, le=24 * 7, description="A login session ends this long after login")
    # Officers' yearly appraisal (server/appraisal): which ratings an officer could have influenced.
    opening_time: time = Field(time(7, 0), description="Desks open (local time, HH:MM); see opening_weekdays")
    closing_time: time = Field(time(17, 30), description="Desks close (local time, HH:MM)")
    opening_weekdays: list[int] = Field(
        [1, 2, 3, 4, 5], description="ISO weekdays the desks open (1 = Monday), as JSON, e.g. [1,2,3,4,5,6]"
    )
    doubtful_rating_seconds: float = Field(
        5.0, ge=0, le=600, description="A rating this soon after a console session opened its visit is doubtful"
    )
    doubtful_burst_count: int = Field(
        3, ge=2, le=1000, description="This many top ratings at one counter outside opening hours form a burst"
    )
    doubtful_burst_minutes: float = Field(10.0, gt=0, le=24 * 60, description="… within this many minutes")
    # Petitions and notifications (server/petitions).
    petition_days_tthc: int = Field(15, ge=1, le=365, description="Working days to answer a `tthc` petition")
    petition_days_staff: int = Field(15, ge=1, le=365, description="Working days to answer a `staff` petition")
    petition_days_other: int = Field(15, ge=1, le=365, description="Working days to answer an `other` petition")
    petition_form_limit: int = Field(
        5, ge=1, le=1000, description="Petitions one address may file through /gop-y within the window before a 429"
    )
    petition_form_window_seconds: int = Field(
        3600, ge=60, le=7 * 86400, description="Window over which /gop-y filings are counted (per worker)"
    )
    petition_contact_retention_months: int = Field(
        12,
        ge=1,
        le=240,
        description="A closed petition's contact details are erased this many months after it was closed (an open "
        "one keeps them)",
    )
    notify_interval_seconds: float = Field(
        60.0, ge=0, le=86400, description="How often the server sends queued messages and scans petitions (0: never)"
    )
    smtp_host: str = Field("", description="SMTP relay for email notifications (empty: no email)")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP relay port")
    smtp_from: str = Field("hailong@localhost", description="Sender address of notification emails")
    smtp_username: str = Field("", description="SMTP login (empty: none)")
    smtp_password: str = Field("", description="SMTP password")
    smtp_starttls: bool = Field(False, description="Use STARTTLS with the relay")
    sms_gateway_url: str = Field("", description="HTTP SMS gateway: POST JSON {to, text, brand} (empty: no SMS)")
    sms_gateway_token: str = Field("", description="Bearer token sent to the SMS gateway")
    sms_brand: str = Field("HAILONG", description="Brand name the SMS gateway sends under")

    @model_validator(mode="after")
    def _refuse_defaults_outside_development(self) -> Settings:
        if self.environment == "production" and (self.secret_key == DEFAULT_SECRET or len(self.secret_key) < 32):
            raise ValueError(
                "HAILONG_SECRET_KEY must be set to a random value of at least 32 characters in production "
                "(for example: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        try:
            ZoneInfo(self.timezone)
        except Exception as exc:
            raise ValueError(f"unknown time zone {self.timezone!r}") from exc
        if not self.opening_weekdays or any(day not in range(1, 8) for day in self.opening_weekdays):
            raise ValueError("HAILONG_OPENING_WEEKDAYS must list ISO weekdays 1 (Monday) to 7 (Sunday)")
        if self.closing_time <= self.opening_time:
            raise ValueError("HAILONG_CLOSING_TIME must be after HAILONG_OPENING_TIME")
        self.database_url = normalise_database_url(self.database_url)
        return self

    @field_validator("public_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        # A field validator, not an assignment in the model validator: `model_fields_set` then still tells whether
        # the address was given (`hailong serve` defaults it to the address it listens on).
        return value.rstrip("/")

    def petition_days(self, category: str) -> int:
        """Working days to answer a petition of `category`."""
        return {"tthc": self.petition_days_tthc, "staff": self.petition_days_staff}.get(
            category, self.petition_days_other
        )

    @cached_property
    def tz(self) -> ZoneInfo:
        """The reporting time zone as a `ZoneInfo`."""
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        """Whether the central store is the embedded SQLite database."""
        return self.database_url.startswith("sqlite")


def normalise_database_url(url: str) -> str:
    """Accept plain `postgresql://` and `postgres://` URLs and use the psycopg 3 driver for them."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
