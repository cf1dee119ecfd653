"""The Core `Table` of each model, for set-based SQL (bulk inserts, upserts, rollup reads) written without the ORM.

SQLModel does not declare `__table__` to type checkers; reading it here, once, keeps that out of every service.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from server.models import (
    ApiKey,
    AuditLog,
    CalendarDay,
    Counter,
    Dossier,
    KioskDevice,
    LoginSession,
    LoginThrottle,
    Notification,
    NotificationPref,
    Officer,
    Petition,
    PetitionEvent,
    ProcedureField,
    Rating,
    RatingMonthRollup,
    RatingReason,
    RatingReasonMonthRollup,
    RatingReasonRollup,
    RatingReasonSubtreeMonthRollup,
    RatingRollup,
    RatingSubtreeMonthRollup,
    Reason,
    ScaleLevel,
    Unit,
    User,
    Visit,
)


def table_of(model: Any) -> sa.Table:
    """The Core table of a SQLModel table class."""
    return cast(sa.Table, model.__table__)


API_KEY = table_of(ApiKey)
AUDIT_LOG = table_of(AuditLog)
CALENDAR_DAY = table_of(CalendarDay)
COUNTER = table_of(Counter)
DEVICE = table_of(KioskDevice)
DOSSIER = table_of(Dossier)
FIELD = table_of(ProcedureField)
LOGIN_SESSION = table_of(LoginSession)
LOGIN_THROTTLE = table_of(LoginThrottle)
NOTIFICATION = table_of(Notification)
NOTIFICATION_PREF = table_of(NotificationPref)
OFFICER = table_of(Officer)
PETITION = table_of(Petition)
PETITION_EVENT = table_of(PetitionEvent)
RATING = table_of(Rating)
RATING_REASON = table_of(RatingReason)
REASON = table_of(Reason)
SCALE = table_of(ScaleLevel)
UNIT = table_of(Unit)
USER = table_of(User)
VISIT = table_of(Visit)
#: The rollups (migrations 0005 and 0008): per day, per month (leaf), per month with each unit's whole subtree.
DAY_ROLLUP = table_of(RatingRollup)
DAY_REASON_ROLLUP = table_of(RatingReasonRollup)
LEAF_MONTH = table_of(RatingMonthRollup)
LEAF_REASON_MONTH = table_of(RatingReasonMonthRollup)
SUBTREE_MONTH = table_of(RatingSubtreeMonthRollup)
SUBTREE_REASON_MONTH = table_of(RatingReasonSubtreeMonthRollup)
