-- Migration 0005 (sqlite, downgrade): the day and month rollups (fill from existing ratings, then the triggers that keep them exact).
-- Applied as written by migrations/versions/0005_indices_rollups.py; see its docstring for the design.
-- What a migrated database ends up with: migrations/sql/installed.sqlite.snapshot.

DROP TRIGGER IF EXISTS trg_rating_rollup_insert;

DROP TRIGGER IF EXISTS trg_rating_rollup_update;

DROP TRIGGER IF EXISTS trg_rating_rollup_delete;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_insert;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_update;

DROP TRIGGER IF EXISTS trg_rating_reason_rollup_delete;
