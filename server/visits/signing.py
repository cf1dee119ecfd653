"""HMAC signatures with the settings' secret key (the phone form's CSRF tokens).

Every signature names its purpose, so a value signed for one use is never valid for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_nonce() -> str:
    """A fresh random value (128 bits, URL-safe) for a cookie or a form."""
    return secrets.token_urlsafe(16)


def sign(secret: str, purpose: str, *parts: str) -> str:
    """The URL-safe HMAC-SHA256 of `parts` for `purpose`."""
    message = "\x1f".join((purpose, *parts)).encode("utf-8")
    return _b64(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest())


def verify(secret: str, purpose: str, signature: str, *parts: str) -> bool:
    """Whether `signature` is `sign(secret, purpose, *parts)` (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, purpose, *parts).encode(), signature.encode("utf-8", "replace"))
