"""An error in words: its stable code looked up as ``error.<code>``, its parameters filled.

Parameters are formatted for the reader's language first: a name ending in ``_fen`` is
money, a ``datetime`` a Shanghai wall time, a ``date`` a calendar day.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from app.i18n.catalogues import gettext, has
from app.i18n.formats import day, money, when

if TYPE_CHECKING:
    from collections.abc import Mapping

ERROR_PREFIX = "error."


def _shown(name: str, value: object, lang: str) -> object:
    if name.endswith("_fen") and isinstance(value, int):
        return money(value, lang)
    if isinstance(value, datetime):
        return when(value, lang)
    if isinstance(value, date):
        return day(value, lang)
    return value


def say(lang: str, code: str, params: Mapping[str, object] | None = None) -> str:
    """The message for error ``code`` in ``lang``; an unknown code says the generic one."""
    msgid = ERROR_PREFIX + code if has(ERROR_PREFIX + code) else ERROR_PREFIX + "error"
    shown = {name: _shown(name, value, lang) for name, value in (params or {}).items()}
    return gettext(lang, msgid, **shown)


def describe(exc: BaseException, lang: str) -> str:
    """What went wrong, in ``lang``: by the error's ``code`` and ``params``."""
    code = str(getattr(exc, "code", "error"))
    params = getattr(exc, "params", None) or {}
    return say(lang, code, params)


def field_messages(exc: BaseException, lang: str) -> dict[str, str]:
    """The message beside each field the error names (``fields``: field -> code)."""
    fields: Mapping[str, str] = getattr(exc, "fields", None) or {}
    params = getattr(exc, "params", None) or {}
    return {
        field: say(lang, code, params) if has(ERROR_PREFIX + code) else code
        for field, code in fields.items()
    }
