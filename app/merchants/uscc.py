"""Unified social credit codes (统一社会信用代码, GB 32100-2015).

Merchants are matched by this code and never by name, so a code is accepted only when its
check character is right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.i18n.errors import say

CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
"""The 31 characters a code may use (no I, O, S, V, Z)."""

WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18
MODULUS = 31


@dataclass(frozen=True)
class UsccFault:
    """Why a code is not a unified social credit code: an error code and its parameters."""

    code: str
    params: dict[str, object] = field(default_factory=dict)


def check_character(first17: str) -> str:
    """The 18th character that the first 17 call for."""
    total = sum(CHARSET.index(ch) * w for ch, w in zip(first17, WEIGHTS, strict=True))
    return CHARSET[(MODULUS - total % MODULUS) % MODULUS]


def uscc_fault(code: str) -> UsccFault | None:
    """Why ``code`` is not a valid unified social credit code, or ``None`` if it is."""
    if len(code) != LENGTH:
        return UsccFault("uscc-length", {"uscc_length": LENGTH, "uscc_given": len(code)})
    bad = sorted({ch for ch in code if ch not in CHARSET})
    if bad:
        return UsccFault("uscc-characters", {"uscc_bad": " ".join(bad)})
    if not code[2:8].isdigit():
        return UsccFault("uscc-division")
    if check_character(code[:17]) != code[17]:
        return UsccFault("uscc-check-character")
    return None


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not valid, in English (for data-file reports), or ``None`` if it is."""
    fault = uscc_fault(code)
    return None if fault is None else say("en", fault.code, fault.params)


def normalise_uscc(code: str) -> str:
    """Upper-case, without spaces (people copy codes with both)."""
    return "".join(code.split()).upper()
