-- Migration 0005 (postgresql): the functions behind the day and month rollups' triggers, as 0005 installed them.
-- Applied by migrations/versions/0005_indices_rollups.py before its upgrade.postgresql.sql (fills and triggers), and
-- again by 0010's downgrade, which restores these versions.

CREATE OR REPLACE FUNCTION hl_rollup_rating_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    INSERT INTO rating_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, 1 AS n FROM new_rows AS r
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    INSERT INTO rating_month_rollup AS t (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT * FROM (
      SELECT month, unit_id, field_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
      ) AS c GROUP BY month, unit_id, field_id
    ) AS g WHERE valid <> 0 OR satisfied <> 0 OR misuse <> 0 OR level_1 <> 0 OR level_2 <> 0 OR level_3 <> 0 OR level_4 <> 0 OR level_5 <> 0 ORDER BY month, unit_id, field_id
    ON CONFLICT (month, unit_id, field_id) DO UPDATE SET valid = t.valid + EXCLUDED.valid, satisfied = t.satisfied + EXCLUDED.satisfied, misuse = t.misuse + EXCLUDED.misuse, level_1 = t.level_1 + EXCLUDED.level_1, level_2 = t.level_2 + EXCLUDED.level_2, level_3 = t.level_3 + EXCLUDED.level_3, level_4 = t.level_4 + EXCLUDED.level_4, level_5 = t.level_5 + EXCLUDED.level_5;
    GET DIAGNOSTICS touched = ROW_COUNT;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_rating_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id WHERE o.id IS NULL OR n.id IS NULL OR (o.local_date, o.unit_id, o.counter_id, o.field_id, o.officer_id, o.channel, o.level, o.satisfied, o.misuse) IS DISTINCT FROM (n.local_date, n.unit_id, n.counter_id, n.field_id, n.officer_id, n.channel, n.level, n.satisfied, n.misuse))) THEN RETURN NULL; END IF;
    INSERT INTO rating_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, 1 AS n FROM new_rows AS r
      UNION ALL SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, -1 AS n FROM old_rows AS r
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, -1 AS n FROM old_rows AS r) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.level = c.level AND t.satisfied = c.satisfied AND t.misuse = c.misuse AND t.n = 0;
    END IF;
    INSERT INTO rating_month_rollup AS t (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT * FROM (
      SELECT month, unit_id, field_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
      UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
      ) AS c GROUP BY month, unit_id, field_id
    ) AS g WHERE valid <> 0 OR satisfied <> 0 OR misuse <> 0 OR level_1 <> 0 OR level_2 <> 0 OR level_3 <> 0 OR level_4 <> 0 OR level_5 <> 0 ORDER BY month, unit_id, field_id
    ON CONFLICT (month, unit_id, field_id) DO UPDATE SET valid = t.valid + EXCLUDED.valid, satisfied = t.satisfied + EXCLUDED.satisfied, misuse = t.misuse + EXCLUDED.misuse, level_1 = t.level_1 + EXCLUDED.level_1, level_2 = t.level_2 + EXCLUDED.level_2, level_3 = t.level_3 + EXCLUDED.level_3, level_4 = t.level_4 + EXCLUDED.level_4, level_5 = t.level_5 + EXCLUDED.level_5;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.valid = 0 AND t.misuse = 0;
    END IF;
    INSERT INTO rating_reason_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      UNION ALL SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_rating_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    INSERT INTO rating_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, -1 AS n FROM old_rows AS r
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, level, satisfied, misuse) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, r.level AS level, r.satisfied AS satisfied, r.misuse AS misuse, -1 AS n FROM old_rows AS r) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.level = c.level AND t.satisfied = c.satisfied AND t.misuse = c.misuse AND t.n = 0;
    END IF;
    INSERT INTO rating_month_rollup AS t (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT * FROM (
      SELECT month, unit_id, field_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
      ) AS c GROUP BY month, unit_id, field_id
    ) AS g WHERE valid <> 0 OR satisfied <> 0 OR misuse <> 0 OR level_1 <> 0 OR level_2 <> 0 OR level_3 <> 0 OR level_4 <> 0 OR level_5 <> 0 ORDER BY month, unit_id, field_id
    ON CONFLICT (month, unit_id, field_id) DO UPDATE SET valid = t.valid + EXCLUDED.valid, satisfied = t.satisfied + EXCLUDED.satisfied, misuse = t.misuse + EXCLUDED.misuse, level_1 = t.level_1 + EXCLUDED.level_1, level_2 = t.level_2 + EXCLUDED.level_2, level_3 = t.level_3 + EXCLUDED.level_3, level_4 = t.level_4 + EXCLUDED.level_4, level_5 = t.level_5 + EXCLUDED.level_5;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.valid = 0 AND t.misuse = 0;
    END IF;
    INSERT INTO rating_reason_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_reason_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    INSERT INTO rating_reason_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_reason_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    INSERT INTO rating_reason_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      UNION ALL SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_reason_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched bigint;
BEGIN
    INSERT INTO rating_reason_rollup AS t (unit_id, day, counter_id, field_id, officer_id, channel, reason_id, n)
    SELECT * FROM (
      SELECT unit_id, day, counter_id, field_id, officer_id, channel, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_rating_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_rollup; DELETE FROM rating_reason_rollup; DELETE FROM rating_month_rollup; DELETE FROM rating_reason_month_rollup;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_rollup_reason_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_reason_rollup; DELETE FROM rating_reason_month_rollup;
    RETURN NULL;
END
$$;
