"""Administration pages: units, counters, fields, targets, officers, users, kiosks, API keys, audit log."""
