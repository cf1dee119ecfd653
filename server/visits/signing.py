"""HMAC signatures with the settings' secret key: CSRF tokens and the console's session cookie.

Every signature names its purpose, so a value signed for one use (a phone form) is never valid for another
(a console session).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from typing import Any


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


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


def dumps(secret: str, purpose: str, payload: dict[str, Any], *, max_age_seconds: int, now: float | None = None) -> str:
    """`payload` as a signed, expiring, URL-safe string (readable by anyone, forgeable by no one)."""
    issued = int(time.time() if now is None else now)
    body = _b64(json.dumps({**payload, "exp": issued + max_age_seconds}, separators=(",", ":")).encode())
    return f"{body}.{sign(secret, purpose, body)}"


def loads(secret: str, purpose: str, value: str, *, now: float | None = None) -> dict[str, Any] | None:
    """The payload of a `dumps` string, or None when it is malformed, forged or expired."""
    body, _, signature = value.partition(".")
    if not body or not signature or not verify(secret, purpose, signature, body):
        return None
    try:
        payload = json.loads(_unb64(body))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("exp"), int):
        return None
    if payload["exp"] <= (time.time() if now is None else now):
        return None
    return payload


def verify_equal(expected: str, given: str) -> bool:
    """Constant-time comparison of two tokens."""
    return hmac.compare_digest(expected.encode("utf-8", "replace"), given.encode("utf-8", "replace"))
