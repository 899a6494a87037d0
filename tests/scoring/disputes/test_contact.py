"""Telephone numbers: checked, sealed to their complaint, hashed with a key, masked; the key
file made once with owner-only permissions."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from scoring.disputes import contact


def test_mainland_mobile_numbers_and_nothing_else() -> None:
    assert contact.normalise_phone("13812341234") == "13812341234"
    assert contact.normalise_phone(" +86 138-1234-1234 ") == "13812341234"
    assert contact.normalise_phone("0086 13812341234") == "13812341234"
    for bad in ("12812341234", "1381234123", "138123412345", "0396-1234567", "1381234123x", ""):
        assert contact.normalise_phone(bad) is None, bad


def test_a_number_shows_masked() -> None:
    assert contact.mask("13812341234") == "138****1234"


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    first = contact.contact_key(tmp_path)
    path = contact.key_path(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert contact.contact_key(tmp_path) == first  # read back, not made again
    assert [p.name for p in path.parent.iterdir()] == ["contact.key"]  # no drafts left


def test_a_sealed_number_opens_only_for_its_complaint(tmp_path: Path) -> None:
    key = contact.contact_key(tmp_path)
    sealed = key.seal("13812341234", "TS-2026-AAAAAA")
    assert "13812341234" not in sealed
    assert key.open(sealed, "TS-2026-AAAAAA") == "13812341234"
    with pytest.raises(contact.ContactKeyError):
        key.open(sealed, "TS-2026-BBBBBB")  # copied onto another complaint
    other = contact.ContactKey(b"\x01" * 32)
    with pytest.raises(contact.ContactKeyError):
        other.open(sealed, "TS-2026-AAAAAA")


def test_the_hash_matches_equal_numbers_and_depends_on_the_key(tmp_path: Path) -> None:
    key = contact.contact_key(tmp_path)
    assert key.digest("13812341234") == key.digest("13812341234")
    assert key.digest("13812341234") != key.digest("13812341235")
    assert contact.ContactKey(b"\x01" * 32).digest("13812341234") != key.digest("13812341234")


def test_a_damaged_key_file_is_refused(tmp_path: Path) -> None:
    path = contact.key_path(tmp_path)
    path.parent.mkdir()
    path.write_bytes(b"short")
    with pytest.raises(contact.ContactKeyError, match="32 bytes"):
        contact.contact_key(tmp_path)
