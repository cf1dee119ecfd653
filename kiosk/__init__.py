"""Hài Lòng kiosk: the touch screen at a counter. Offline first: every tap is stored locally, then forwarded.

Imports nothing from `server` except `server.contracts` (the wire schemas), so it deploys on its own.
"""

from pathlib import Path

__version__ = "0.1.0"

#: The package directory (templates, static files, catalog) and the checkout root (for the default `var/`).
KIOSK_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = KIOSK_DIR.parent
