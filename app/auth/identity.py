"""Resident identity card numbers (GB 11643): checked before a real name is accepted."""

from __future__ import annotations

import re
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def id_number_problem(number: str) -> str | None:
    """Why ``number`` is not a valid 18-character ID number, or ``None`` if it is."""
    if not _SHAPE.match(number):
        return "an ID number has 17 digits and a final digit or X"
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return "the ID number's date of birth is not a real date"
    total = sum(int(d) * w for d, w in zip(number[:17], _WEIGHTS, strict=True))
    if _CHECK[total % 11] != number[17]:
        return "the ID number's check digit does not match; please check for a typo"
    return None


def normalise_id_number(number: str) -> str:
    """Upper-case X, no spaces."""
    return "".join(number.split()).upper()
