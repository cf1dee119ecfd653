"""Kiosk devices: pairing, heartbeat, configuration and visit preselection."""
