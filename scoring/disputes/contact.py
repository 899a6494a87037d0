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

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_DIR: Final = "keys"
KEY_FILE: Final = f"{KEY_DIR}/contact.key"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
# Mainland mobile numbers: 11 digits, 1 then 3–9 (the carriers' ranges).
MOBILE: Final = re.compile(r"1[3-9]\d{9}")
_SEPARATORS: Final = re.compile(r"[\s\-()（）]")
_HASH_LABEL: Final = b"fangxin contact hash v1"


class ContactKeyError(Exception):
    """The contact key file exists but cannot be used."""


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
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, phone.encode(), bound_to.encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, bound_to: str) -> str:
        """The number; ContactKeyError when the text was not sealed by this key for this
        complaint."""
        raw = base64.b64decode(sealed)
        try:
            plain = AESGCM(self.key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode()
            )
        except InvalidTag:
            raise ContactKeyError("the contact does not open with this key") from None
        return plain.decode()

    def digest(self, phone: str) -> str:
        hash_key = hmac.new(self.key, _HASH_LABEL, hashlib.sha256).digest()
        return hmac.new(hash_key, phone.encode(), hashlib.sha256).hexdigest()


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def contact_key(data_dir: Path) -> ContactKey:
    """The data dir's contact key, created on first use. Read from the file each time (32
    bytes, a few times per complaint): a restore that puts the backup's key back is seen at
    once, by every process."""
    path = key_path(data_dir)
    if not path.exists():
        _create(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise ContactKeyError(f"{path}: a contact key is {KEY_BYTES} bytes, not {len(key)}")
    return ContactKey(key)


def _create(path: Path) -> None:
    """Write a new key under its final name atomically: two processes starting at once both
    write a draft, one links it into place, and the other then reads that one."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(KEY_BYTES))
        # Another process may have been first: then its key is the key.
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)
