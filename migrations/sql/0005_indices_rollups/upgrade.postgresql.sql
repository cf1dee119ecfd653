-- Migration 0005 (postgresql, upgrade): the day and month rollups filled from existing ratings, then the triggers that keep them exact
-- (their functions: functions.postgresql.sql, applied first). Applied by migrations/versions/0005_indices_rollups.py.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

INSERT INTO rating_rollup (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, n) SELECT r.unit_id, r.local_date, r.counter_id, r.field_id, COALESCE(r.officer_id, 0), r.channel, r.level, r.satisfied, r.misuse, sum(1) FROM rating r GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9;

INSERT INTO rating_reason_rollup (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n) SELECT r.unit_id, r.local_date, r.counter_id, r.field_id, COALESCE(r.officer_id, 0), r.channel, x.reason_id, sum(1) FROM rating_reason x JOIN rating r ON r.id = x.rating_id WHERE NOT r.misuse GROUP BY 1, 2, 3, 4, 5, 6, 7;

INSERT INTO rating_month_rollup (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5) SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date), r.unit_id, r.field_id, sum(CASE WHEN r.misuse THEN 0 ELSE 1 END), sum(CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END), sum(CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END) FROM rating r GROUP BY 1, 2, 3;

INSERT INTO rating_reason_month_rollup (month, unit_id, field_id, reason_id, n) SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date), r.unit_id, r.field_id, x.reason_id, sum(1) FROM rating_reason x JOIN rating r ON r.id = x.rating_id WHERE NOT r.misuse GROUP BY 1, 2, 3, 4;

CREATE TRIGGER trg_rating_rollup_insert AFTER INSERT ON rating REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_rating_insert();

CREATE TRIGGER trg_rating_rollup_update AFTER UPDATE ON rating REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_rating_update();

CREATE TRIGGER trg_rating_rollup_delete AFTER DELETE ON rating REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_rating_delete();

CREATE TRIGGER trg_rating_rollup_truncate AFTER TRUNCATE ON rating FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_rating_truncate();

CREATE TRIGGER trg_rating_reason_rollup_insert AFTER INSERT ON rating_reason REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_reason_insert();

CREATE TRIGGER trg_rating_reason_rollup_update AFTER UPDATE ON rating_reason REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_reason_update();

CREATE TRIGGER trg_rating_reason_rollup_delete AFTER DELETE ON rating_reason REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_reason_delete();

CREATE TRIGGER trg_rating_reason_rollup_truncate AFTER TRUNCATE ON rating_reason FOR EACH STATEMENT EXECUTE FUNCTION hl_rollup_reason_truncate();
