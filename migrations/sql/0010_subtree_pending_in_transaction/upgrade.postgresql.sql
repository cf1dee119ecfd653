-- Migration 0010 (postgresql, upgrade): pending subtree deltas in a transaction-local setting; rollup joins as key lookups.
-- Applied as written by migrations/versions/0010_subtree_pending_in_transaction.py; see its docstring for the design.
-- Applied again (all CREATE OR REPLACE) by the downgrades of 0011 and 0019 and by 0018, which restore its flush.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

CREATE OR REPLACE FUNCTION hl_subtree_pend(piece text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    pending text;
BEGIN
    IF piece IS NULL THEN
        RETURN;
    END IF;
    pending := current_setting('hailong.subtree_pending', true);
    IF pending IS NULL OR pending = '' THEN
        -- The first deltas since the last flush: note the transaction, so the deferred trigger applies them.
        INSERT INTO rating_subtree_flush (txid) VALUES (txid_current()) ON CONFLICT DO NOTHING;
        pending := piece;
    ELSE
        pending := pending || ',' || piece;
    END IF;
    IF length(pending) > 65536 THEN
        INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5, n) SELECT p.month, p.unit_id, p.field_id, p.reason_id, COALESCE(p.valid, 0), COALESCE(p.satisfied, 0), COALESCE(p.misuse, 0), COALESCE(p.level_1, 0), COALESCE(p.level_2, 0), COALESCE(p.level_3, 0), COALESCE(p.level_4, 0), COALESCE(p.level_5, 0), COALESCE(p.n, 0) FROM json_to_recordset(CAST('[' || pending || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer);
        PERFORM set_config('hailong.subtree_spilled', 'on', true);
        pending := '';
    END IF;
    PERFORM set_config('hailong.subtree_pending', pending, true);
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z_month date[];
    z_unit_id integer[];
    z_field_id integer[];
    z_reason_id integer[];
BEGIN
    DELETE FROM rating_subtree_flush WHERE txid = txid_current();
    IF current_setting('hailong.subtree_spilled', true) = 'on' THEN
        -- A large transaction: what the setting still holds joins the table, and everything is taken from there.
        IF current_setting('hailong.subtree_pending', true) <> '' THEN
            INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5, n) SELECT p.month, p.unit_id, p.field_id, p.reason_id, COALESCE(p.valid, 0), COALESCE(p.satisfied, 0), COALESCE(p.misuse, 0), COALESCE(p.level_1, 0), COALESCE(p.level_2, 0), COALESCE(p.level_3, 0), COALESCE(p.level_4, 0), COALESCE(p.level_5, 0), COALESCE(p.n, 0) FROM json_to_recordset(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer);
        END IF;
        PERFORM set_config('hailong.subtree_pending', '', true);
        PERFORM set_config('hailong.subtree_spilled', '', true);
        WITH taken AS (
        DELETE FROM rating_subtree_pending WHERE reason_id = 0 RETURNING month, unit_id, field_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5
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
        DELETE FROM rating_subtree_pending WHERE reason_id <> 0 RETURNING month, unit_id, field_id, reason_id, n
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
    ELSIF current_setting('hailong.subtree_pending', true) <> '' THEN
        WITH taken AS (
        SELECT p.month, p.unit_id, p.field_id, COALESCE(p.valid, 0) AS valid, COALESCE(p.satisfied, 0) AS satisfied, COALESCE(p.misuse, 0) AS misuse, COALESCE(p.level_1, 0) AS level_1, COALESCE(p.level_2, 0) AS level_2, COALESCE(p.level_3, 0) AS level_3, COALESCE(p.level_4, 0) AS level_4, COALESCE(p.level_5, 0) AS level_5 FROM json_to_recordset(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer) WHERE p.reason_id = 0
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
        SELECT p.month, p.unit_id, p.field_id, p.reason_id, COALESCE(p.n, 0) AS n FROM json_to_recordset(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer) WHERE p.reason_id <> 0
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
        PERFORM set_config('hailong.subtree_pending', '', true);
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NOT (EXISTS (SELECT 1 FROM old_rows AS o FULL JOIN new_rows AS n ON n.id = o.id WHERE o.id IS NULL OR n.id IS NULL OR (o.id, o.local_date, o.unit_id, o.field_id, o.level, o.satisfied, o.misuse) IS DISTINCT FROM (n.id, n.local_date, n.unit_id, n.field_id, n.level, n.satisfied, n.misuse))) THEN RETURN NULL; END IF;
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE 1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN 1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN 1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN 1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN 1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN 1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN 1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN 1 ELSE 0 END AS level_5 FROM new_rows AS r
            UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0
        ) AS g
    ));
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
            UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(valid) AS integer) AS valid, CAST(sum(satisfied) AS integer) AS satisfied, CAST(sum(misuse) AS integer) AS misuse, CAST(sum(level_1) AS integer) AS level_1, CAST(sum(level_2) AS integer) AS level_2, CAST(sum(level_3) AS integer) AS level_3, CAST(sum(level_4) AS integer) AS level_4, CAST(sum(level_5) AS integer) AS level_5 FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, 0 AS reason_id, CASE WHEN r.misuse THEN 0 ELSE -1 END AS valid, CASE WHEN r.satisfied AND NOT r.misuse THEN -1 ELSE 0 END AS satisfied, CASE WHEN r.misuse THEN -1 ELSE 0 END AS misuse, CASE WHEN r.level = 1 AND NOT r.misuse THEN -1 ELSE 0 END AS level_1, CASE WHEN r.level = 2 AND NOT r.misuse THEN -1 ELSE 0 END AS level_2, CASE WHEN r.level = 3 AND NOT r.misuse THEN -1 ELSE 0 END AS level_3, CASE WHEN r.level = 4 AND NOT r.misuse THEN -1 ELSE 0 END AS level_4, CASE WHEN r.level = 5 AND NOT r.misuse THEN -1 ELSE 0 END AS level_5 FROM old_rows AS r
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(valid) <> 0 OR sum(satisfied) <> 0 OR sum(misuse) <> 0 OR sum(level_1) <> 0 OR sum(level_2) <> 0 OR sum(level_3) <> 0 OR sum(level_4) <> 0 OR sum(level_5) <> 0
        ) AS g
    ));
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
            UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_subtree_pend((
        SELECT string_agg(CAST(row_to_json(g) AS text), ',') FROM (
            SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
            SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
            ) AS c GROUP BY month, unit_id, field_id, reason_id HAVING sum(n) <> 0
        ) AS g
    ));
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_rating_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_subtree_pending WHERE TRUE;
    IF current_setting('hailong.subtree_pending', true) <> '' THEN
        PERFORM set_config('hailong.subtree_pending', '', true);
    END IF;
    DELETE FROM rating_subtree_month_rollup; DELETE FROM rating_reason_subtree_month_rollup;
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_reason_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_subtree_pending WHERE reason_id <> 0;
    IF current_setting('hailong.subtree_pending', true) <> '' THEN
        PERFORM set_config('hailong.subtree_pending', COALESCE((SELECT string_agg(CAST(e AS text), ',') FROM json_array_elements(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS e WHERE CAST(e ->> 'reason_id' AS integer) = 0), ''), true);
    END IF;
    DELETE FROM rating_reason_subtree_month_rollup;
    RETURN NULL;
END
$$;

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
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      UNION ALL SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
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
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS r CROSS JOIN LATERAL (SELECT x1.rating_id, x1.reason_id FROM rating_reason AS x1 WHERE x1.rating_id = r.id OFFSET 0) AS x WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
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
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
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
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      UNION ALL SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, 1 AS n FROM new_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      UNION ALL SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
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
        SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      ) AS c GROUP BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ) AS g WHERE n <> 0 ORDER BY unit_id, day, counter_id, field_id, officer_id, channel, reason_id
    ON CONFLICT (unit_id, day, counter_id, field_id, officer_id, channel, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_rollup AS t USING (SELECT r.unit_id AS unit_id, r.local_date AS day, r.counter_id AS counter_id, r.field_id AS field_id, COALESCE(r.officer_id, 0) AS officer_id, r.channel AS channel, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse) AS c WHERE t.unit_id = c.unit_id AND t.day = c.day AND t.counter_id = c.counter_id AND t.field_id = c.field_id AND t.officer_id = c.officer_id AND t.channel = c.channel AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    INSERT INTO rating_reason_month_rollup AS t (month, unit_id, field_id, reason_id, n)
    SELECT * FROM (
      SELECT month, unit_id, field_id, reason_id, CAST(sum(n) AS integer) AS n FROM (
        SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse
      ) AS c GROUP BY month, unit_id, field_id, reason_id
    ) AS g WHERE n <> 0 ORDER BY month, unit_id, field_id, reason_id
    ON CONFLICT (month, unit_id, field_id, reason_id) DO UPDATE SET n = t.n + EXCLUDED.n;
    GET DIAGNOSTICS touched = ROW_COUNT;
    IF touched > 0 THEN
      DELETE FROM rating_reason_month_rollup AS t USING (SELECT CAST(date_trunc('month', CAST(r.local_date AS timestamp)) AS date) AS month, r.unit_id AS unit_id, r.field_id AS field_id, x.reason_id AS reason_id, -1 AS n FROM old_rows AS x CROSS JOIN LATERAL (SELECT * FROM rating AS r1 WHERE r1.id = x.rating_id OFFSET 0) AS r WHERE NOT r.misuse) AS c WHERE t.month = c.month AND t.unit_id = c.unit_id AND t.field_id = c.field_id AND t.reason_id = c.reason_id AND t.n = 0;
    END IF;
    RETURN NULL;
END
$$;
