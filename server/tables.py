"""The Core `Table` of each model, for set-based SQL (bulk inserts, upserts, rollup reads) written without the ORM.

SQLModel does not declare `__table__` to type checkers; reading it here, once, keeps that out of every service.
"""

from __future__ import annotations

from typing import Any, cast

import sqlalchemy as sa

from server import models


def table_of(model: Any) -> sa.Table:
    """The Core table of a SQLModel table class."""
    return cast(sa.Table, model.__table__)


API_KEY = table_of(models.ApiKey)
AUDIT_LOG = table_of(models.AuditLog)
CALENDAR_DAY = table_of(models.CalendarDay)
COUNTER = table_of(models.Counter)
DEVICE = table_of(models.KioskDevice)
DOSSIER = table_of(models.Dossier)
FIELD = table_of(models.ProcedureField)
LOGIN_SESSION = table_of(models.LoginSession)
LOGIN_THROTTLE = table_of(models.LoginThrottle)
NOTIFICATION = table_of(models.Notification)
NOTIFICATION_PREF = table_of(models.NotificationPref)
OFFICER = table_of(models.Officer)
PETITION = table_of(models.Petition)
PETITION_EVENT = table_of(models.PetitionEvent)
RATING = table_of(models.Rating)
RATING_REASON = table_of(models.RatingReason)
REASON = table_of(models.Reason)
SCALE = table_of(models.ScaleLevel)
UNIT = table_of(models.Unit)
USER = table_of(models.User)
VISIT = table_of(models.Visit)
#: The rollups (migrations 0005 and 0008): per day, per month (leaf), per month with each unit's whole subtree.
DAY_ROLLUP = table_of(models.RatingRollup)
DAY_REASON_ROLLUP = table_of(models.RatingReasonRollup)
LEAF_MONTH = table_of(models.RatingMonthRollup)
LEAF_REASON_MONTH = table_of(models.RatingReasonMonthRollup)
SUBTREE_MONTH = table_of(models.RatingSubtreeMonthRollup)
SUBTREE_REASON_MONTH = table_of(models.RatingReasonSubtreeMonthRollup)
