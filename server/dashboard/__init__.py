"""The managers' dashboard: a unit's satisfaction against its targets, trends, reasons, comments and kiosks."""
