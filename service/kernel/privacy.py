"""Personal data we must compare but need not keep: addresses and devices are stored only
as keyed hashes, so equal inputs still match while the input cannot be recovered."""

from __future__ import annotations

import hashlib
import hmac


def salted_hash(secret: str, purpose: str, value: str) -> str:
    """Keyed hash of ``value``; ``purpose`` keeps one kind's hashes from matching another's."""
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
