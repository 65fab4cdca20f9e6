"""Reading what people type into forms: amounts in yuan, counts, percentages.

One parser for every page, so that "¥1,000.50" means the same on the consumer's, the
merchant's and the regulator's pages. Parsers return ``None`` for what is not a value; the
page then shows its message beside the field. Fen are built from digits, never from floats.
"""

from __future__ import annotations

import re

_YUAN = re.compile(r"^(\d{1,10})(?:\.(\d{1,2}))?$")
_COUNT = re.compile(r"^\d{1,12}$")
_PERCENT = re.compile(r"^(\d{1,3})(?:\.(\d{1,2}))?$")
_NOISE = re.compile(r"[\s,，]")


def parse_yuan(text: str) -> int | None:
    """``800``, ``800.5``, ``¥1,000.00``, ``￥ 1，000`` -> fen; anything else -> ``None``."""
    cleaned = _NOISE.sub("", text).removeprefix("¥").removeprefix("￥")
    found = _YUAN.match(cleaned)
    if found is None:
        return None
    whole, part = found.groups()
    return int(whole) * 100 + int((part or "").ljust(2, "0"))


def parse_count(text: str) -> int | None:
    """A whole number of units (``12``); anything else -> ``None``."""
    cleaned = text.strip()
    return int(cleaned) if _COUNT.match(cleaned) else None


def parse_percent(text: str) -> int | None:
    """``60`` or ``45.5`` per cent -> basis points (6000, 4550); over 100% -> ``None``."""
    found = _PERCENT.match(text.strip().removesuffix("%"))
    if found is None:
        return None
    whole, part = found.groups()
    bp = int(whole) * 100 + int((part or "").ljust(2, "0"))
    return bp if bp <= 10_000 else None  # noqa: PLR2004 - 100% in basis points
