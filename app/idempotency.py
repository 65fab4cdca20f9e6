"""Idempotency keys: how long one may be, for the API's header and the pages' hidden field.

A repeated request with the same key returns the first answer; a key reused for a different
request is refused. Anonymous buyers' keys are also their secret (whoever repeats one gets
the card link), so those must be long and random.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from litestar.params import HeaderParameter

MIN_LENGTH = 8
MAX_LENGTH = 200
SECRET_LENGTH = 32
"""An anonymous order's key is a secret: at least this long (a UUID will do)."""

IdempotencyKey = Annotated[
    str, HeaderParameter(name="Idempotency-Key", min_length=MIN_LENGTH, max_length=MAX_LENGTH)
]
"""The ``Idempotency-Key`` header as every API route takes it."""


def acceptable(key: str) -> bool:
    """Whether ``key`` is a key the use cases take."""
    return MIN_LENGTH <= len(key) <= MAX_LENGTH


def new_key() -> str:
    """A fresh random key for a form, long enough to be a secret."""
    return secrets.token_urlsafe(SECRET_LENGTH)


def form_key(posted: str) -> str:
    """The key a form posted back, or a fresh one when it is missing or out of bounds."""
    return posted if acceptable(posted) else new_key()
