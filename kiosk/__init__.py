"""Hài Lòng kiosk: the touch-screen app at a counter (offline-first outbox, forwarder)."""
