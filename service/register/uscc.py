"""The Unified Social Credit Code (统一社会信用代码) of GB 32100-2015.

18 characters from a 31-symbol alphabet (no I, O, S, V, Z). The 18th is a check
character: 31 − (Σ vᵢ·wᵢ mod 31) with wᵢ = 3^(i−1) mod 31, where 31 maps to 0.
"""

from __future__ import annotations

import random

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
VALUES = {ch: i for i, ch in enumerate(ALPHABET)}
WEIGHTS = tuple(pow(3, i, 31) for i in range(17))
LENGTH = 18


class USCCError(ValueError):
    """Why a string is not a valid USCC; ``checksum_only`` when only the check character fails."""

    def __init__(self, message: str, *, checksum_only: bool = False) -> None:
        super().__init__(message)
        self.checksum_only = checksum_only


def check_character(body: str) -> str:
    """The check character for the first 17 characters of a code."""
    total = sum(VALUES[ch] * w for ch, w in zip(body, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate(code: str) -> str:
    """Return ``code`` when it is a well-formed USCC with a correct check character.

    Raises USCCError with a reason a person can act on.
    """
    if len(code) != LENGTH:
        raise USCCError(f"must be 18 characters, got {len(code)}")
    if code != code.upper():
        raise USCCError("must be upper case")
    bad = sorted({ch for ch in code if ch not in VALUES})
    if bad:
        raise USCCError(
            "contains characters not allowed in a USCC: "
            + ", ".join(repr(ch) for ch in bad)
            + " (I, O, S, V and Z are never used)"
        )
    expected = check_character(code[:17])
    if code[17] != expected:
        raise USCCError(f"check character is {code[17]}, expected {expected}", checksum_only=True)
    return code


def is_valid(code: str) -> bool:
    try:
        validate(code)
    except USCCError:
        return False
    return True


def org_code_check(body: str) -> str:
    """GB 11714 check character for an 8-character organisation code body."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(ch, 36) * w for ch, w in zip(body, weights, strict=True))
    c = 11 - total % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


def generate(rng: random.Random, region: str, *, authority: str = "9", kind: str = "2") -> str:
    """A valid, realistic USCC for ``region`` (6 digits): a market-regulation registration
    (authority 9) of an enterprise (1), individual business (2) or other (3)."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    org = body + org_code_check(body)
    head = authority + kind + region + org
    return head + check_character(head)
