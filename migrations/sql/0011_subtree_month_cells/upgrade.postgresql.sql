-- Migration 0011 (postgresql, upgrade): each unit's whole month packed in one value, kept by the subtree flush.
-- Applied as written by migrations/versions/0011_subtree_month_cells.py; see its docstring for the design.
-- Migration 0018 applies this file the other way round (it is 0011 backwards).
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

CREATE FUNCTION hl_cells_int(cells bytea, p integer) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CAST(CAST(('x' || encode(substring(cells FROM p + 1 FOR 4), 'hex')) AS bit(32)) AS integer)
$$;

CREATE FUNCTION hl_cells_add(cells bytea, fields integer[], comps integer[], ns integer[])
RETURNS bytea LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    need integer := 8;
    top integer := 0;
    w integer;
    held integer;
    i integer;
    b integer;
    p integer;
    old bytea;
    fresh integer[];
BEGIN
    FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
        need := greatest(need, comps[i] + 1);
        top := greatest(top, fields[i]);
    END LOOP;
    IF cells IS NULL THEN
        -- A new row: built as an array, then sent as bytes once.
        fresh := array_fill(0, ARRAY[1 + (top + 1) * need]);
        fresh[1] := need;
        FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
            FOREACH b IN ARRAY ARRAY[0, fields[i]] LOOP
                p := 2 + b * need + comps[i];
                fresh[p] := fresh[p] + ns[i];
            END LOOP;
        END LOOP;
        RETURN (SELECT string_agg(int4send(x), ''::bytea ORDER BY o) FROM unnest(fresh) WITH ORDINALITY AS u(x, o));
    END IF;
    w := hl_cells_int(cells, 0);
    held := (length(cells) / 4 - 1) / w;
    IF need > w THEN  -- a reason beyond the blocks' width: widen every block
        old := cells;
        cells := int4send(need);
        FOR b IN 0 .. held - 1 LOOP
            cells := cells || substring(old FROM 5 + 4 * b * w FOR 4 * w)
                || decode(repeat('00', 4 * (need - w)), 'hex');
        END LOOP;
        w := need;
    END IF;
    IF top >= held THEN  -- a field beyond the last block
        cells := cells || decode(repeat('00', 4 * (top + 1 - held) * w), 'hex');
    END IF;
    FOR i IN 1 .. coalesce(array_length(comps, 1), 0) LOOP
        FOREACH b IN ARRAY ARRAY[0, fields[i]] LOOP
            p := 4 * (1 + b * w + comps[i]);
            cells := overlay(cells PLACING int4send(hl_cells_int(cells, p) + ns[i]) FROM p + 1 FOR 4);
        END LOOP;
    END LOOP;
    RETURN cells;
END
$$;

CREATE FUNCTION hl_cells_unpack(cells bytea)
RETURNS TABLE (field_id integer, comp integer, n integer) LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT CAST(g.i / h.w AS integer), CAST(g.i % h.w AS integer), x.n
    FROM (SELECT hl_cells_int(cells, 0) AS w) AS h
    CROSS JOIN LATERAL generate_series(0, length(cells) / 4 - 2) AS g(i)
    CROSS JOIN LATERAL (SELECT hl_cells_int(cells, 4 + 4 * g.i) AS n) AS x
    WHERE x.n <> 0
$$;

CREATE FUNCTION hl_cells_refresh(m date, units integer[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM rating_subtree_month_cells AS t WHERE (m IS NULL OR t.month = m) AND (units IS NULL OR t.unit_id = ANY(units));
    INSERT INTO rating_subtree_month_cells (month, unit_id, cells)
    SELECT v.month, v.unit_id, hl_cells_add(NULL, array_agg(v.field_id), array_agg(v.comp), array_agg(v.n))
    FROM (
        SELECT s.month, s.unit_id, s.field_id, c.comp, c.n
        FROM rating_subtree_month_rollup AS s CROSS JOIN LATERAL (VALUES (0, s.valid), (1, s.satisfied), (2, s.misuse), (3, s.level_1), (4, s.level_2), (5, s.level_3), (6, s.level_4), (7, s.level_5)) AS c(comp, n)
        WHERE (m IS NULL OR s.month = m) AND (units IS NULL OR s.unit_id = ANY(units))
        UNION ALL
        SELECT r.month, r.unit_id, r.field_id, 7 + r.reason_id, r.n
        FROM rating_reason_subtree_month_rollup AS r
        WHERE (m IS NULL OR r.month = m) AND (units IS NULL OR r.unit_id = ANY(units))
    ) AS v
    WHERE v.n <> 0
    GROUP BY v.month, v.unit_id
    ORDER BY v.month, v.unit_id;
END
$$;

CREATE FUNCTION hl_cells_unit_move() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    touched integer[];
BEGIN
    SELECT array_agg(DISTINCT CAST(a.id AS integer)) INTO touched
    FROM old_rows AS o JOIN new_rows AS n ON n.id = o.id
    CROSS JOIN LATERAL unnest(string_to_array(btrim(o.path, '/'), '/') || string_to_array(btrim(n.path, '/'), '/'))
        AS a(id)
    WHERE o.path IS DISTINCT FROM n.path AND a.id <> '';
    IF touched IS NOT NULL THEN
        PERFORM hl_cells_refresh(NULL, touched);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION hl_cells_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hl_cells_refresh(NULL, NULL);
    RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION hl_subtree_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    z_month date[];
    z_unit_id integer[];
    z_field_id integer[];
    z_reason_id integer[];
    rec record;
BEGIN
    DELETE FROM rating_subtree_flush WHERE txid = txid_current();
    IF current_setting('hailong.subtree_spilled', true) = 'on' THEN
        -- A large transaction: what the setting still holds joins the table, and everything is taken from there.
        IF current_setting('hailong.subtree_pending', true) <> '' THEN
            INSERT INTO rating_subtree_pending (month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5, n) SELECT p.month, p.unit_id, p.field_id, p.reason_id, COALESCE(p.valid, 0), COALESCE(p.satisfied, 0), COALESCE(p.misuse, 0), COALESCE(p.level_1, 0), COALESCE(p.level_2, 0), COALESCE(p.level_3, 0), COALESCE(p.level_4, 0), COALESCE(p.level_5, 0), COALESCE(p.n, 0) FROM json_to_recordset(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer);
        END IF;
        PERFORM set_config('hailong.subtree_pending', '', true);
        PERFORM set_config('hailong.subtree_spilled', '', true);
        FOR rec IN
            SELECT g.month, CAST(a.id AS integer) AS unit_id, array_agg(g.field_id) AS fields,
                array_agg(c.comp) AS comps, array_agg(c.n) AS ns
            FROM (SELECT month, unit_id, field_id, reason_id, valid, satisfied, misuse, level_1, level_2, level_3, level_4, level_5, n FROM rating_subtree_pending) AS g
            CROSS JOIN LATERAL (VALUES (0, g.valid), (1, g.satisfied), (2, g.misuse), (3, g.level_1), (4, g.level_2), (5, g.level_3), (6, g.level_4), (7, g.level_5), (7 + g.reason_id, g.n)) AS c(comp, n)
            CROSS JOIN LATERAL unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)
            WHERE c.n <> 0
            GROUP BY 1, 2 ORDER BY 1, 2
        LOOP
            UPDATE rating_subtree_month_cells AS t SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns)
            WHERE t.month = rec.month AND t.unit_id = rec.unit_id;
            IF NOT FOUND THEN
                INSERT INTO rating_subtree_month_cells AS t (month, unit_id, cells)
                VALUES (rec.month, rec.unit_id, hl_cells_add(NULL, rec.fields, rec.comps, rec.ns))
                ON CONFLICT (month, unit_id) DO UPDATE SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns);
            END IF;
        END LOOP;
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
        FOR rec IN
            SELECT g.month, CAST(a.id AS integer) AS unit_id, array_agg(g.field_id) AS fields,
                array_agg(c.comp) AS comps, array_agg(c.n) AS ns
            FROM (SELECT p.month, p.unit_id, p.field_id, p.reason_id, COALESCE(p.valid, 0) AS valid, COALESCE(p.satisfied, 0) AS satisfied, COALESCE(p.misuse, 0) AS misuse, COALESCE(p.level_1, 0) AS level_1, COALESCE(p.level_2, 0) AS level_2, COALESCE(p.level_3, 0) AS level_3, COALESCE(p.level_4, 0) AS level_4, COALESCE(p.level_5, 0) AS level_5, COALESCE(p.n, 0) AS n FROM json_to_recordset(CAST('[' || current_setting('hailong.subtree_pending') || ']' AS json)) AS p(month date, unit_id integer, field_id integer, reason_id integer, valid integer, satisfied integer, misuse integer, level_1 integer, level_2 integer, level_3 integer, level_4 integer, level_5 integer, n integer)) AS g
            CROSS JOIN LATERAL (VALUES (0, g.valid), (1, g.satisfied), (2, g.misuse), (3, g.level_1), (4, g.level_2), (5, g.level_3), (6, g.level_4), (7, g.level_5), (7 + g.reason_id, g.n)) AS c(comp, n)
            CROSS JOIN LATERAL unnest(string_to_array(btrim((SELECT u.path FROM unit AS u WHERE u.id = g.unit_id), '/'), '/')) AS a(id)
            WHERE c.n <> 0
            GROUP BY 1, 2 ORDER BY 1, 2
        LOOP
            UPDATE rating_subtree_month_cells AS t SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns)
            WHERE t.month = rec.month AND t.unit_id = rec.unit_id;
            IF NOT FOUND THEN
                INSERT INTO rating_subtree_month_cells AS t (month, unit_id, cells)
                VALUES (rec.month, rec.unit_id, hl_cells_add(NULL, rec.fields, rec.comps, rec.ns))
                ON CONFLICT (month, unit_id) DO UPDATE SET cells = hl_cells_add(t.cells, rec.fields, rec.comps, rec.ns);
            END IF;
        END LOOP;
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

CREATE TRIGGER trg_unit_subtree_move_cells AFTER UPDATE ON unit REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_unit_move();

CREATE TRIGGER trg_rating_subtree_truncate_cells AFTER TRUNCATE ON rating FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_truncate();

CREATE TRIGGER trg_rating_reason_subtree_truncate_cells AFTER TRUNCATE ON rating_reason FOR EACH STATEMENT EXECUTE FUNCTION hl_cells_truncate();

SELECT hl_cells_refresh(NULL, NULL);
