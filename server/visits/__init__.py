"""Visits: a served citizen's visit at a counter, its rating link and QR code, and the counter console."""
