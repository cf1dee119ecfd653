"""Hài Lòng central store: ingest, visits, phone rating, indices, dashboard, exports, admin."""

from pathlib import Path

__version__ = "0.1.0"

#: The checkout (or install) root: holds `migrations/`, `templates/`, `alembic.ini` and `var/`.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
