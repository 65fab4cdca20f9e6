"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Merchants are matched by this code and never by name, so a code is accepted only when its
check character is right.
"""

from __future__ import annotations

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a code may use (no I, O, S, V, Z)."""

WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
MODULUS = 31


def check_character(first17: str) -> str:
    """The 18th character that the first 17 call for."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(MODULUS - total % MODULUS) % MODULUS]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid unified social credit code, or ``None`` if it is."""
    if len(code) != LENGTH:
        return f"a unified social credit code has {LENGTH} characters, this one has {len(code)}"
    bad = sorted({ch for ch in code if ch not in CHARSET})
    if bad:
        return f"characters not allowed in a unified social credit code: {' '.join(bad)}"
    if not code[2:8].isdigit():
        return "characters 3 to 8 must be the digits of an administrative division code"
    if check_character(code[:17]) != code[17]:
        return "the check character does not match; please check the code for a typo"
    return None


def normalise_uscc(code: str) -> str:
    """Upper-case, without spaces (people copy codes with both)."""
    return "".join(code.split()).upper()
