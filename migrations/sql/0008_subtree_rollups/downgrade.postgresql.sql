-- Migration 0008 (postgresql, downgrade): the subtree month rollups (fill from the leaf month rollups, then their triggers and the unit-move trigger).
-- Applied as written by migrations/versions/0008_subtree_rollups.py; see its docstring for the design.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

DROP TRIGGER IF EXISTS trg_rating_subtree_insert ON rating;

DROP TRIGGER IF EXISTS trg_rating_subtree_update ON rating;

DROP TRIGGER IF EXISTS trg_rating_subtree_delete ON rating;

DROP TRIGGER IF EXISTS trg_rating_subtree_truncate ON rating;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_insert ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_update ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_delete ON rating_reason;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_truncate ON rating_reason;

DROP TRIGGER IF EXISTS trg_unit_subtree_move ON unit;

DROP TRIGGER IF EXISTS trg_rating_subtree_flush ON rating_subtree_flush;

DROP TRIGGER IF EXISTS trg_unit_subtree_before_move ON unit;

DROP FUNCTION IF EXISTS hl_subtree_unit_move();

DROP FUNCTION IF EXISTS hl_subtree_unit_before_move();

DROP FUNCTION IF EXISTS hl_subtree_flush_at_commit();

DROP FUNCTION IF EXISTS hl_subtree_reason_truncate();

DROP FUNCTION IF EXISTS hl_subtree_rating_truncate();

DROP FUNCTION IF EXISTS hl_subtree_reason_delete();

DROP FUNCTION IF EXISTS hl_subtree_reason_update();

DROP FUNCTION IF EXISTS hl_subtree_reason_insert();

DROP FUNCTION IF EXISTS hl_subtree_rating_delete();

DROP FUNCTION IF EXISTS hl_subtree_rating_update();

DROP FUNCTION IF EXISTS hl_subtree_rating_insert();

DROP FUNCTION IF EXISTS hl_subtree_flush();
