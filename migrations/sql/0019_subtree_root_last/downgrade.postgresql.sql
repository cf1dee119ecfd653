-- Migration 0019 (postgresql, downgrade): migration 0010's flush again, exactly as 0010 (and 0018) installed it.
-- Applied as written by migrations/versions/0019_subtree_root_last.py.

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
