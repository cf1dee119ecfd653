-- Migration 0005 (postgresql, downgrade): the day and month rollups (fill from existing ratings, then the triggers that keep them exact).
-- Applied as written by migrations/versions/0005_indices_rollups.py; see its docstring for the design.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

DROP TRIGGER IF EXISTS trg_rating_rollup_insert ON rating;

DROP TRIGGER IF EXISTS trg_rating_rollup_update ON rating;

DROP TRIGGER IF EXISTS trg_rating_rollup_delete ON rating;

DROP TRIGGER IF EXISTS trg_rating_rollup_truncate ON rating;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_insert ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_update ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_delete ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_truncate ON rating_reason;

DROP FUNCTION IF EXISTS hl_rollup_rating_insert();

DROP FUNCTION IF EXISTS hl_rollup_rating_update();

DROP FUNCTION IF EXISTS hl_rollup_rating_delete();

DROP FUNCTION IF EXISTS hl_rollup_reason_insert();

DROP FUNCTION IF EXISTS hl_rollup_reason_update();

DROP FUNCTION IF EXISTS hl_rollup_reason_delete();

DROP FUNCTION IF EXISTS hl_rollup_rating_truncate();

DROP FUNCTION IF EXISTS hl_rollup_reason_truncate();
