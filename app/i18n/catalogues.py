"""The gettext catalogues, read once per process with Babel and merged across domains.

The ``.po`` files are the source; they are compiled in memory when first needed, so no
generated ``.mo`` file is kept in the repository or built at install time.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path
from typing import TYPE_CHECKING

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

if TYPE_CHECKING:
    from babel.messages.catalog import Catalog

LANGS = ("zh", "en")
"""The languages a visitor can choose (``?lang=`` and the ``lang`` cookie)."""
DEFAULT_LANG = "zh"
LANG_COOKIE = "lang"
LOCALES = {"zh": "zh_CN", "en": "en"}
"""Each language's Babel locale: its catalogue directory and its formatting rules."""

LOCALE_DIR = Path(__file__).parent / "locale"


def locale_of(lang: str) -> str:
    """The Babel locale for ``lang``; Chinese for anything not offered."""
    return LOCALES.get(lang, LOCALES[DEFAULT_LANG])


@functools.cache
def _catalogues(locale: str) -> tuple[Catalog, ...]:
    """Every domain's catalogue of ``locale``; a key in two domains is a mistake."""
    catalogues: list[Catalog] = []
    seen: dict[str, str] = {}
    for path in sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as fp:
            catalogue = read_po(fp, locale=locale, domain=path.stem)
        for message in catalogue:
            if isinstance(message.id, str) and message.id:
                if message.id in seen:
                    msg = f"{message.id!r} is in {seen[message.id]} and {path.name} ({locale})"
                    raise ValueError(msg)
                seen[message.id] = path.name
        catalogues.append(catalogue)
    return tuple(catalogues)


def _messages(locale: str) -> dict[str, str]:
    return {
        message.id: str(message.string)
        for catalogue in _catalogues(locale)
        for message in catalogue
        if isinstance(message.id, str) and message.id
    }


@functools.cache
def translations(locale: str) -> Translations:
    """Babel's translations for ``locale``: every domain compiled in memory, then merged."""
    merged = Translations()
    for catalogue in _catalogues(locale):
        compiled = io.BytesIO()
        write_mo(compiled, catalogue)
        compiled.seek(0)
        merged.merge(Translations(fp=compiled, domain=catalogue.domain))
    return merged


def message_ids() -> frozenset[str]:
    """Every message id with a translation in every language (the test of completeness)."""
    ids = [
        frozenset(key for key, text in _messages(locale).items() if text)
        for locale in LOCALES.values()
    ]
    return frozenset.intersection(*ids)


def has(msgid: str) -> bool:
    """Whether ``msgid`` is a message (in the default language's catalogue)."""
    return bool(_messages(LOCALES[DEFAULT_LANG]).get(msgid))


def gettext(lang: str, msgid: str, /, **params: object) -> str:
    """The words for ``msgid`` in ``lang``, ``%(name)s`` placeholders filled from ``params``.

    A message without a translation shows its id, which the pages' test looks for.
    """
    text = translations(locale_of(lang)).ugettext(msgid)
    return text % params
