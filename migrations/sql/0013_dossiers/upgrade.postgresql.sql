-- Migration 0013 (postgresql, upgrade): the dossiers' QĐ 766 flags (overdue, rated not satisfied, named
-- by a petition) kept by triggers. Applied as written by migrations/versions/0013_dossiers.py.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

CREATE FUNCTION trg_dossier_rating_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dossier d SET rated_not_satisfied = TRUE FROM new_rows n JOIN visit v ON v.id = n.visit_id WHERE NOT n.satisfied AND NOT n.misuse AND v.dossier_code = d.code AND NOT d.rated_not_satisfied;
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_dossier_rating_insert AFTER INSERT ON rating REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trg_dossier_rating_insert_fn();

CREATE FUNCTION trg_dossier_rating_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dossier SET rated_not_satisfied = EXISTS (SELECT 1 FROM visit v JOIN rating r ON r.visit_id = v.id WHERE v.dossier_code = dossier.code AND NOT r.satisfied AND NOT r.misuse) WHERE code IN (SELECT dossier_code FROM visit WHERE id IN (OLD.visit_id, NEW.visit_id));
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_dossier_rating_update AFTER UPDATE OF satisfied, misuse, visit_id ON rating FOR EACH ROW WHEN (OLD.satisfied IS DISTINCT FROM NEW.satisfied OR OLD.misuse IS DISTINCT FROM NEW.misuse OR OLD.visit_id IS DISTINCT FROM NEW.visit_id) EXECUTE FUNCTION trg_dossier_rating_update_fn();

CREATE FUNCTION trg_dossier_petition_insert_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dossier d SET petitioned = TRUE FROM new_rows n WHERE n.dossier_code = d.code AND NOT d.petitioned;
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_dossier_petition_insert AFTER INSERT ON petition REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trg_dossier_petition_insert_fn();

CREATE FUNCTION trg_dossier_petition_update_fn() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE dossier SET petitioned = EXISTS (SELECT 1 FROM petition p WHERE p.dossier_code = dossier.code) WHERE code IN (OLD.dossier_code, NEW.dossier_code);
  RETURN NULL;
END
$$;

CREATE TRIGGER trg_dossier_petition_update AFTER UPDATE OF dossier_code ON petition FOR EACH ROW WHEN (OLD.dossier_code IS DISTINCT FROM NEW.dossier_code) EXECUTE FUNCTION trg_dossier_petition_update_fn();
