-- Migration 0008 (postgresql): the functions behind the subtree rollups' triggers, as 0008 installed them.
-- Applied by migrations/versions/0008_subtree_rollups.py before its upgrade.postgresql.sql (fills and triggers), and
-- again by 0010's downgrade, which restores these versions.

CREATE OR REPLACE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z_month date[];
    z_unit_id integer[];
    z_field_id integer[];
    z_reason_id integer[];
BEGIN
    DELETE FROM rating_subtree_flush WHERE txid = txid_current();
    WITH taken AS (
        DELETE FROM rating_subtree_pending WHERE reason_id = 0
        RETURNING month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5
    ), added AS (
        INSERT INTO rating_subtree_month_rollup AS t (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
        SELECT g.month, CAST(a.id AS integer), g.field_id, CAST(sum(g.valid) AS integer), CAST(sum(g.satisfied) AS integer), CAST(sum(g.misuse) AS integer), CAST(sum(g.level_1) AS integer), CAST(sum(g.level_2) AS integer), CAST(sum(g.level_3) AS integer), CAST(sum(g.level_4) AS integer), CAST(sum(g.level_5) AS integer)
        FROM (
            SELECT month, unit_id, field_id, sum(valid) AS valid, sum(satisfied) AS satisfied, sum(misuse) AS misuse, sum(level_1) AS level_1, sum(level_2) AS level_2, sum(level_3) AS level_3, sum(level_4) AS level_4, sum(level_5) AS level_5
            FROM taken GROUP BY month, unit_id, field_id
        ) AS g CROSS JOIN LATERAL unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)
        GROUP BY 1, 2, 3 HAVING sum(g.valid) <> 0 OR sum(g.satisfied) <> 0 OR sum(g.misuse) <> 0 OR sum(g.level_1) <> 0 OR sum(g.level_2) <> 0 OR sum(g.level_3) <> 0 OR sum(g.level_4) <> 0 OR sum(g.level_5) <> 0 ORDER BY 1, 2, 3
        ON CONFLICT (month, unit_id, field_id) DO UPDATE SET valid = t.valid + EXCLUDED.valid, satisfied = t.satisfied + EXCLUDED.satisfied, misuse = t.misuse + EXCLUDED.misuse, level_1 = t.level_1 + EXCLUDED.level_1, level_2 = t.level_2 + EXCLUDED.level_2, level_3 = t.level_3 + EXCLUDED.level_3, level_4 = t.level_4 + EXCLUDED.level_4, level_5 = t.level_5 + EXCLUDED.level_5
        RETURNING t.month, t.unit_id, t.field_id, t.valid = 0 AND t.misuse = 0 AS empty
    )
    SELECT array_agg(month), array_agg(unit_id), array_agg(field_id) INTO z_month, z_unit_id, z_field_id FROM added WHERE empty;
    IF z_month IS NOT NULL THEN
        DELETE FROM rating_subtree_month_rollup AS t USING unnest(z_month, z_unit_id, z_field_id) AS z (month, unit_id, field_id) WHERE t.month = z.month AND t.unit_id = z.unit_id AND t.field_id = z.field_id AND t.valid = 0 AND t.misuse = 0;
    END IF;
    WITH taken AS (
        DELETE FROM rating_subtree_pending WHERE reason_id <> 0
        RETURNING month, unit_id, field_id, reason_id, n
    ), added AS (
        INSERT INTO rating_reason_subtree_month_rollup AS t (month, unit_id, field_id, reason_id, n)
        SELECT g.month, CAST(a.id AS integer), g.field_id, g.reason_id, CAST(sum(g.n) AS integer)
        FROM (
            SELECT month, unit_id, field_id, reason_id, sum(n) AS n
            FROM taken GROUP BY month, unit_id, field_id, reason_id
        ) AS g CROSS JOIN LATERAL unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)
        GROUP BY 1, 2, 3, 4 HAVING sum(g.n) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n
        RETURNING t.month, t.unit_id, t.field_id, t.reason_id, t.n = 0 AS empty
    )
    SELECT array_agg(month), array_agg(unit_id), array_agg(field_id), array_agg(reason_id) INTO z_month, z_unit_id, z_field_id, z_reason_id FROM added WHERE empty;
    IF z_month IS NOT NULL THEN
        DELETE FROM rating_reason_subtree_month_rollup AS t USING unnest(z_month, z_unit_id, z_field_id, z_reason_id) AS z (month, unit_id, field_id, reason_id) WHERE t.month = z.month AND t.unit_id = z.unit_id AND t.field_id = z.field_id AND t.reason_id = z.reason_id AND t.n = 0;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT month, unit_id, field_id, reason_id, sum(valid), sum(satisfied), sum(misuse), sum(level_1), sum(level_2), sum(level_3), sum(level_4), sum(level_5) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id WHERE o.id IS NULL OR n.id IS NULL OR (o.id, o.local_date, o.unit_id, o.field_id, o.level, o.satisfied, o.misuse) IS DISTINCT FROM (n.id, n.local_date, n.unit_id, n.field_id, n.level, n.satisfied, n.misuse))) THEN RETURN NULL; END IF;
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT month, unit_id, field_id, reason_id, sum(valid), sum(satisfied), sum(misuse), sum(level_1), sum(level_2), sum(level_3), sum(level_4), sum(level_5) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
        UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, n)
    SELECT month, unit_id, field_id, reason_id, sum(n) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
        UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT month, unit_id, field_id, reason_id, sum(valid), sum(satisfied), sum(misuse), sum(level_1), sum(level_2), sum(level_3), sum(level_4), sum(level_5) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, n)
    SELECT month, unit_id, field_id, reason_id, sum(n) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r JOIN rating_reason AS x ON x.rating_id = r.id WHERE NOT r.misuse
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, n)
    SELECT month, unit_id, field_id, reason_id, sum(n) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, n)
    SELECT month, unit_id, field_id, reason_id, sum(n) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
        UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, n)
    SELECT month, unit_id, field_id, reason_id, sum(n) FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x JOIN rating AS r ON r.id = x.rating_id WHERE NOT r.misuse
    ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0;
    IF FOUND THEN
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
    END IF;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_subtree_pending WHERE TRUE;
    DELETE FROM rating_subtree_month_rollup; DELETE FROM rating_reason_subtree_month_rollup;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_subtree_pending WHERE reason_id <> 0;
    DELETE FROM rating_reason_subtree_month_rollup;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_flush_at_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_flush();
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_unit_before_move() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.path <> '/' THEN
        LOCK TABLE rating, rating_reason IN SHARE ROW EXCLUSIVE MODE;
    END IF;
    PERFORM hl_subtree_flush();
    RETURN NEW;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_unit_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path) THEN
        RETURN NULL;
    END IF;
    INSERT INTO rating_subtree_month_rollup AS t (month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5)
    SELECT m.month, CAST(a.id AS integer), m.field_id, CAST(sum(p.d * m.valid) AS integer), CAST(sum(p.d * m.satisfied) AS integer), CAST(sum(p.d * m.misuse) AS integer), CAST(sum(p.d * m.level_1) AS integer), CAST(sum(p.d * m.level_2) AS integer), CAST(sum(p.d * m.level_3) AS integer), CAST(sum(p.d * m.level_4) AS integer), CAST(sum(p.d * m.level_5) AS integer)
    FROM (SELECT n.id, n.path, 1 AS d FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = n.id) UNION ALL SELECT o.id, o.path, -1 FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = o.id)) AS p CROSS JOIN LATERAL unnest(string_to_array(btrim(p.path, '/'), '/')) AS a(id) CROSS JOIN generate_series((SELECT min(month) FROM rating_month_rollup), (SELECT max(month) FROM rating_month_rollup), interval '1 month') AS mo(month)
    JOIN rating_month_rollup AS m ON m.month = CAST(mo.month AS date) AND m.unit_id = p.id
    GROUP BY 1, 2, 3 HAVING sum(p.d * m.valid) <> 0 OR sum(p.d * m.satisfied) <> 0 OR sum(p.d * m.misuse) <> 0 OR sum(p.d * m.level_1) <> 0 OR sum(p.d * m.level_2) <> 0 OR sum(p.d * m.level_3) <> 0 OR sum(p.d * m.level_4) <> 0 OR sum(p.d * m.level_5) <> 0 ORDER BY 1, 2, 3
    ON CONFLICT (month, unit_id, field_id) DO UPDATE SET valid = t.valid + EXCLUDED.valid, satisfied = t.satisfied + EXCLUDED.satisfied, misuse = t.misuse + EXCLUDED.misuse, level_1 = t.level_1 + EXCLUDED.level_1, level_2 = t.level_2 + EXCLUDED.level_2, level_3 = t.level_3 + EXCLUDED.level_3, level_4 = t.level_4 + EXCLUDED.level_4, level_5 = t.level_5 + EXCLUDED.level_5;
    DELETE FROM rating_subtree_month_rollup AS t
    USING (SELECT DISTINCT CAST(a.id AS integer) AS unit_id FROM (SELECT n.id, n.path, 1 AS d FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = n.id) UNION ALL SELECT o.id, o.path, -1 FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = o.id)) AS p, unnest(string_to_array(btrim(p.path, '/'), '/')) AS a(id) WHERE p.d < 0) AS z
    WHERE t.unit_id = z.unit_id AND t.valid = 0 AND t.misuse = 0;
    INSERT INTO rating_reason_subtree_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT m.month, CAST(a.id AS integer), m.field_id, m.reason_id, CAST(sum(p.d * m.n) AS integer)
    FROM (SELECT n.id, n.path, 1 AS d FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = n.id) UNION ALL SELECT o.id, o.path, -1 FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = o.id)) AS p CROSS JOIN LATERAL unnest(string_to_array(btrim(p.path, '/'), '/')) AS a(id) CROSS JOIN generate_series((SELECT min(month) FROM rating_reason_month_rollup), (SELECT max(month) FROM rating_reason_month_rollup), interval '1 month') AS mo(month)
    JOIN rating_reason_month_rollup AS m ON m.month = CAST(mo.month AS date) AND m.unit_id = p.id
    GROUP BY 1, 2, 3, 4 HAVING sum(p.d * m.n) <> 0 ORDER BY 1, 2, 3, 4
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    DELETE FROM rating_reason_subtree_month_rollup AS t
    USING (SELECT DISTINCT CAST(a.id AS integer) AS unit_id FROM (SELECT n.id, n.path, 1 AS d FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = n.id) UNION ALL SELECT o.id, o.path, -1 FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id WHERE o.path IS DISTINCT FROM n.path AND EXISTS (SELECT 1 FROM rating AS r WHERE r.unit_id = o.id)) AS p, unnest(string_to_array(btrim(p.path, '/'), '/')) AS a(id) WHERE p.d < 0) AS z
    WHERE t.unit_id = z.unit_id AND t.n = 0;
    RETURN NULL;
END
$$;
