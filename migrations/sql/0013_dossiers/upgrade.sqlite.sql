-- Migration 0013 (sqlite, upgrade): the dossiers' QĐ 766 flags (overdue, rated not satisfied, named
-- by a petition) kept by triggers. Applied as written by migrations/versions/0013_dossiers.py.
-- What a migrated database ends up with: migrations/sql/installed.sqlite.snapshot.

CREATE TRIGGER trg_dossier_rating_insert AFTER INSERT ON rating WHEN NOT NEW.satisfied AND NOT NEW.misuse AND NEW.visit_id IS NOT NULL
BEGIN
  UPDATE dossier SET rated_not_satisfied = 1 WHERE code = (SELECT dossier_code FROM visit WHERE id = NEW.visit_id) AND NOT rated_not_satisfied;
END;

CREATE TRIGGER trg_dossier_rating_update AFTER UPDATE OF satisfied, misuse, visit_id ON rating WHEN OLD.satisfied IS NOT NEW.satisfied OR OLD.misuse IS NOT NEW.misuse OR OLD.visit_id IS NOT NEW.visit_id
BEGIN
  UPDATE dossier SET rated_not_satisfied = EXISTS (SELECT 1 FROM visit v JOIN rating r ON r.visit_id = v.id WHERE v.dossier_code = dossier.code AND NOT r.satisfied AND NOT r.misuse) WHERE code IN (SELECT dossier_code FROM visit WHERE id IN (OLD.visit_id, NEW.visit_id));
END;

CREATE TRIGGER trg_dossier_petition_insert AFTER INSERT ON petition WHEN NEW.dossier_code IS NOT NULL
BEGIN
  UPDATE dossier SET petitioned = 1 WHERE code = NEW.dossier_code AND NOT petitioned;
END;

CREATE TRIGGER trg_dossier_petition_update AFTER UPDATE OF dossier_code ON petition WHEN OLD.dossier_code IS NOT NEW.dossier_code
BEGIN
  UPDATE dossier SET petitioned = EXISTS (SELECT 1 FROM petition p WHERE p.dossier_code = dossier.code) WHERE code IN (OLD.dossier_code, NEW.dossier_code);
END;
