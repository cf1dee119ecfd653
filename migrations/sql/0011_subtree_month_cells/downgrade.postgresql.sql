-- Migration 0011 (postgresql, downgrade): the packed months' triggers and functions go.
-- Applied by migrations/versions/0011_subtree_month_cells.py (and by 0018's upgrade: 0018 is 0011 backwards) after
-- 0010's upgrade.postgresql.sql again, which restores 0010's `hl_subtree_flush` (0011 replaced it).
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

DROP TRIGGER IF EXISTS trg_unit_subtree_move_cells ON unit;

DROP TRIGGER IF EXISTS trg_rating_subtree_truncate_cells ON rating;

DROP TRIGGER IF EXISTS trg_rating_reason_subtree_truncate_cells ON rating_reason;

DROP FUNCTION IF EXISTS hl_cells_truncate;

DROP FUNCTION IF EXISTS hl_cells_unit_move;

DROP FUNCTION IF EXISTS hl_cells_refresh;

DROP FUNCTION IF EXISTS hl_cells_unpack;

DROP FUNCTION IF EXISTS hl_cells_add;

DROP FUNCTION IF EXISTS hl_cells_int;
