-- Migration 0008 (sqlite, downgrade): the subtree month rollups (fill from the leaf month rollups, then their triggers and the unit-move trigger).
-- Applied as written by migrations/versions/0008_subtree_rollups.py; see its docstring for the design.
-- What a migrated database ends up with: migrations/sql/installed.sqlite.snapshot.

DROP TRIGGER IF EXISTS trg_rating_subtree_insert;

DROP TRIGGER IF EXISTS trg_rating_subtree_update;

DROP TRIGGER IF EXISTS trg_rating_subtree_delete;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_insert;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_update;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_delete;

DROP TRIGGER IF EXISTS trg_unit_subtree_move;
