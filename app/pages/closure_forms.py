"""What the closure forms of the console and the regulator's pages share: reading them.

The rules (notice period, like products, exchange limits) are the use cases'
(:mod:`app.closures.service`); these only turn typed text into their arguments.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import TYPE_CHECKING

from app.clock import SHANGHAI
from app.closures.service import Term
from app.exceptions import Invalid
from app.i18n import day
from app.pages.forms import parse_count

if TYPE_CHECKING:
    from collections.abc import Mapping

    from app.closures.models import Closure


def closes_on(data: Mapping[str, str]) -> date:
    """The closing day typed in a form (``YYYY-MM-DD``)."""
    try:
        return date.fromisoformat(data.get("closes_on", ""))
    except ValueError:
        code = "closure-date-unreadable"
        raise Invalid(code, fields={"closes_on": code}) from None


def successor_terms(data: Mapping[str, str]) -> list[Term]:
    """The mapping form: ``to-<product>`` the successor's product, ``per-<product>`` units."""
    terms = []
    for key, to in data.items():
        if not key.startswith("to-") or not to:
            continue
        per_unit = parse_count(data.get(f"per-{key[3:]}", "1") or "1")
        try:
            terms.append(Term(from_=uuid.UUID(key[3:]), to=uuid.UUID(to), per_unit=per_unit or 0))
        except ValueError:
            code = "successor-terms-not-its-product"
            raise Invalid("successor-terms-invalid", fields={"terms": code}) from None
    return terms


def closing_day(closure: Closure, lang: str) -> str:
    """The closing day, in the reader's words."""
    return day(closure.closes_at.astimezone(SHANGHAI).date(), lang)


def picked_id(typed: str | None) -> uuid.UUID | None:
    """The successor picked from the list, if one was (the list's first line picks none)."""
    try:
        return uuid.UUID(typed) if typed else None
    except ValueError:
        return None
