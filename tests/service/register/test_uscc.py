from __future__ import annotations

import random

import pytest

from service.register import uscc


@pytest.mark.parametrize("code", ["9144030071526726XG", "91330100716105852F"])
def test_hand_checked_codes_are_valid(code: str) -> None:
    assert uscc.validate(code) == code
    assert uscc.is_valid(code)


def test_wrong_check_character_names_the_expected_one() -> None:
    with pytest.raises(uscc.USCCError, match="expected K") as info:
        uscc.validate("914117007676543210")
    assert info.value.checksum_only


def test_check_character_by_hand() -> None:
    # 9144030071526726X (X = 29): Σ v·w = 1782, mod 31 = 15 → 31 − 15 = 16 → "G" (by hand).
    total = sum(uscc.VALUES[c] * w for c, w in zip("9144030071526726X", uscc.WEIGHTS, strict=True))
    assert total == 1782
    assert total % 31 == 15
    assert uscc.check_character("9144030071526726X") == "G"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("9144030071526726xg", "upper case"),
        ("9144030071526726IG", "not allowed"),
        ("9144030071526726OG", "not allowed"),
        ("9144030071526726SG", "not allowed"),
        ("9144030071526726VG", "not allowed"),
        ("9144030071526726ZG", "not allowed"),
        ("9144030071526726X", "18 characters, got 17"),
        ("9144030071526726XGG", "18 characters, got 19"),
        ("", "18 characters, got 0"),
    ],
)
def test_malformed_codes_are_rejected_with_a_reason(code: str, reason: str) -> None:
    with pytest.raises(uscc.USCCError, match=reason) as info:
        uscc.validate(code)
    assert not info.value.checksum_only


def test_generated_codes_are_valid_and_in_region() -> None:
    rng = random.Random(7)
    codes = [uscc.generate(rng, "411702") for _ in range(500)]
    assert all(uscc.is_valid(c) for c in codes)
    assert all(c[2:8] == "411702" for c in codes)
