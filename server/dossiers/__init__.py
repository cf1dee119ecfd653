"""Dossiers from the one-stop electronic system: upsert API, CSV import."""
