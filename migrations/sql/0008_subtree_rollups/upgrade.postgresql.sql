-- Migration 0008 (postgresql, upgrade): the subtree month rollups (fill from the leaf month rollups, then their triggers and the unit-move trigger).
-- Applied as written by migrations/versions/0008_subtree_rollups.py; see its docstring for the design.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

INSERT INTO rating_subtree_month_rollup (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5) SELECT m.month, CAST(a.id AS integer), m.field_id, sum(m.valid), sum(m.satisfied), sum(m.misuse), sum(m.level_1), sum(m.level_2), sum(m.level_3), sum(m.level_4), sum(m.level_5) FROM rating_month_rollup AS m JOIN unit AS u ON u.id = m.unit_id, unnest(string_to_array(btrim(u.path, '/'), '/')) AS a(id) GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;

INSERT INTO rating_reason_subtree_month_rollup (month, unit_id, field_id, reason_id, n) SELECT m.month, CAST(a.id AS integer), m.field_id, m.reason_id, sum(m.n) FROM rating_reason_month_rollup AS m JOIN unit AS u ON u.id = m.unit_id, unnest(string_to_array(btrim(u.path, '/'), '/')) AS a(id) GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4;

CREATE TRIGGER trg_rating_subtree_insert AFTER INSERT ON rating REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_rating_insert();

CREATE TRIGGER trg_rating_subtree_update AFTER UPDATE ON rating REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_rating_update();

CREATE TRIGGER trg_rating_subtree_delete AFTER DELETE ON rating REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_rating_delete();

CREATE TRIGGER trg_rating_subtree_truncate AFTER TRUNCATE ON rating FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_rating_truncate();

CREATE TRIGGER trg_rating_reason_subtree_insert AFTER INSERT ON rating_reason REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_reason_insert();

CREATE TRIGGER trg_rating_reason_subtree_update AFTER UPDATE ON rating_reason REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_reason_update();

CREATE TRIGGER trg_rating_reason_subtree_delete AFTER DELETE ON rating_reason REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_reason_delete();

CREATE TRIGGER trg_rating_reason_subtree_truncate AFTER TRUNCATE ON rating_reason FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_reason_truncate();

CREATE TRIGGER trg_unit_subtree_move AFTER UPDATE ON unit REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_subtree_unit_move();

CREATE CONSTRAINT TRIGGER trg_rating_subtree_flush AFTER INSERT ON rating_subtree_flush DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hl_subtree_flush_at_commit();

CREATE TRIGGER trg_unit_subtree_before_move BEFORE UPDATE OF path ON unit FOR EACH ROW WHEN (OLD.path IS DISTINCT FROM NEW.path) EXECUTE FUNCTION hl_subtree_unit_before_move();
