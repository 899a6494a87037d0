"""Secrets sealed at rest: AES-256-GCM under a key file of the data dir, each sealed text
bound to what it belongs to (associated data), so a ciphertext copied onto another row does
not open there. Consumers' telephone numbers (scoring.disputes.contact) and staff members'
TOTP secrets (service.kernel.second_factor) are sealed so, each under a key of its own.

A key is 32 random bytes in ``<data dir>/keys/<name>.key`` (0600, its folder 0700), created
on first use by whichever process gets there first, and carried by backups: without it no
sealed text can be read again.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_DIR: Final = "keys"
KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12


class SealingKeyError(Exception):
    """A key file exists but cannot be used, or a text does not open with the key."""


@dataclass(frozen=True, slots=True)
class SealingKey:
    key: bytes

    def seal(self, plain: str, bound_to: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, plain.encode(), bound_to.encode())
        return base64.b64encode(nonce + sealed).decode("ascii")

    def open(self, sealed: str, bound_to: str) -> str:
        """The plain text; SealingKeyError when it was not sealed by this key for ``bound_to``."""
        raw = base64.b64decode(sealed)
        try:
            plain = AESGCM(self.key).decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], bound_to.encode()
            )
        except InvalidTag:
            raise SealingKeyError("the sealed text does not open with this key") from None
        return plain.decode()


def read_key(path: Path) -> bytes:
    """The key in ``path``, created on first use. Read from the file each time: a restore
    that puts the backup's key back is seen at once, by every process."""
    if not path.exists():
        _create(path)
    key = path.read_bytes()
    if len(key) != KEY_BYTES:
        raise SealingKeyError(f"{path}: a sealing key is {KEY_BYTES} bytes, not {len(key)}")
    return key


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
