"""Every word a person reads, in Chinese (the default) and English, from gettext catalogues.

Messages live in ``app/i18n/locale/<locale>/LC_MESSAGES/<domain>.po``, one domain per area;
a message id is a stable key (``brand``, ``error.card-used``), never English text, so
rewording a message never breaks the code that shows it. Errors are translated by their
``code`` with their parameters (:func:`describe`); money, dates and numbers are formatted by
Babel's ``zh_CN`` and ``en`` locale rules (:mod:`app.i18n.formats`).
"""

from app.i18n.catalogues import (
    DEFAULT_LANG,
    LANG_COOKIE,
    LANGS,
    gettext,
    has,
    locale_of,
    message_ids,
)
from app.i18n.errors import describe, field_messages
from app.i18n.features import (
    BOOLEAN_FEATURES,
    feature_label,
    feature_value,
    plain_reason,
    reason_sentence,
)
from app.i18n.formats import (
    day,
    money,
    money_short,
    month,
    number,
    probability,
    share,
    when,
)

__all__ = [
    "BOOLEAN_FEATURES",
    "DEFAULT_LANG",
    "LANGS",
    "LANG_COOKIE",
    "day",
    "describe",
    "feature_label",
    "feature_value",
    "field_messages",
    "gettext",
    "has",
    "locale_of",
    "message_ids",
    "money",
    "money_short",
    "month",
    "number",
    "plain_reason",
    "probability",
    "reason_sentence",
    "share",
    "when",
]
