-- Migration 0013 (postgresql, downgrade): the dossiers' QĐ 766 flags (overdue, rated not satisfied, named
-- by a petition) kept by triggers. Applied as written by migrations/versions/0013_dossiers.py.
-- What a migrated database ends up with: migrations/sql/installed.postgresql.snapshot.

DROP TRIGGER IF EXISTS trg_dossier_rating_insert ON rating;

DROP FUNCTION IF EXISTS trg_dossier_rating_insert_fn();

DROP TRIGGER IF EXISTS trg_dossier_rating_update ON rating;

DROP FUNCTION IF EXISTS trg_dossier_rating_update_fn();

DROP TRIGGER IF EXISTS trg_dossier_petition_insert ON petition;

DROP FUNCTION IF EXISTS trg_dossier_petition_insert_fn();

DROP TRIGGER IF EXISTS trg_dossier_petition_update ON petition;

DROP FUNCTION IF EXISTS trg_dossier_petition_update_fn();
