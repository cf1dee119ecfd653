-- Migration 0013 (sqlite, downgrade): the dossiers' QĐ 766 flags (overdue, rated not satisfied, named
-- by a petition) kept by triggers. Applied as written by migrations/versions/0013_dossiers.py.
-- What a migrated database ends up with: migrations/sql/installed.sqlite.snapshot.

DROP TRIGGER IF EXISTS trg_dossier_rating_insert;

DROP TRIGGER IF EXISTS trg_dossier_rating_update;

DROP TRIGGER IF EXISTS trg_dossier_petition_insert;

DROP TRIGGER IF EXISTS trg_dossier_petition_update;
