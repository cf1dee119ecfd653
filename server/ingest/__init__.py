"""Ratings ingest from paired kiosks: `POST /api/v1/ratings`."""
