"""A consumer's telephone number (PIPL: only what the case needs, with consent, masked, purged).

Stored three ways, all cleared when the retention period after closing ends:
- sealed: AES-256-GCM under the contact key, bound to the complaint's receipt code (a
  ciphertext copied onto another complaint does not open there);
- a keyed hash (HMAC-SHA-256 under a key derived from the same key), so that "many complaints
  from one contact" can be counted without reading any number;
- masked, ``138****1234``, the only form any page shows.

The key is 32 random bytes in ``<data dir>/keys/contact.key`` (0600, its folder 0700),
created on first use by whichever process gets there first, and carried by backups like the
signing key: without it no sealed number can be read again.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from service.kernel.sealing import SealingKey, SealingKeyError, read_key

KEY_DIR: Final = "keys"
KEY_FILE: Final = f"{KEY_DIR}/contact.key"
# Mainland mobile numbers: 11 digits, 1 then 3–9 (the carriers' ranges).
MOBILE: Final = re.compile(r"1[3-9]\d{9}")
_SEPARATORS: Final = re.compile(r"[\s\-()（）]")
_HASH_LABEL: Final = b"fangxin contact hash v1"


# The contact key file exists but cannot be used, or a number does not open with it.
ContactKeyError = SealingKeyError


def normalise_phone(raw: str) -> str | None:
    """The number as 11 digits, or None if it is not a mainland mobile number. Spaces,
    dashes, brackets and a +86 / 0086 prefix are allowed around it."""
    text = _SEPARATORS.sub("", raw.strip())
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    return text if MOBILE.fullmatch(text) else None


def mask(phone: str) -> str:
    """``138****1234``: enough for the consumer to recognise, too little to call."""
    return f"{phone[:3]}****{phone[-4:]}"


@dataclass(frozen=True, slots=True)
class ContactKey:
    key: bytes

    def seal(self, phone: str, bound_to: str) -> str:
        return SealingKey(self.key).seal(phone, bound_to)

    def open(self, sealed: str, bound_to: str) -> str:
        """The number; ContactKeyError when the text was not sealed by this key for this
        complaint."""
        return SealingKey(self.key).open(sealed, bound_to)

    def digest(self, phone: str) -> str:
        hash_key = hmac.new(self.key, _HASH_LABEL, hashlib.sha256).digest()
        return hmac.new(hash_key, phone.encode(), hashlib.sha256).hexdigest()


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def contact_key(data_dir: Path) -> ContactKey:
    """The data dir's contact key, created on first use (service.kernel.sealing.read_key)."""
    return ContactKey(read_key(key_path(data_dir)))
