"""Writing events for insurers, and what an insurer manages: its endpoint, secret and log.

Every function only flushes: an event is written in the transaction of the change that
caused it, so it exists exactly when the change does. ``app.outbox.worker`` delivers it.

Delivery is at least once: a retry, or a worker that dies after the insurer took the
request but before its answer was recorded, sends the same event again with the same
``webhook-id``. Insurers dedupe on that id.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import msgspec
from sqlalchemy import select, update

from app.auth.models import Role, User
from app.clock import utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.outbox.models import DeliveryAttempt, EventStatus, Insurer, OutboxEvent
from app.outbox.signing import new_secret
from app.settings import get_settings

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.security.pii import PiiCipher

SECRET_FIELD = "webhook_secret"  # noqa: S105 - a field name, not a secret
"""The PII cipher's field for insurers' signing secrets (a ciphertext is bound to it)."""
EVENT_ID_PREFIX = "msg_"
EVENT_TYPE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)*$")
"""Full-stop separated names, as the spec suggests: ``claim.triggered``."""
MAX_EVENT_TYPE = 64
MAX_URL = 2048
MAX_NAME = 200


@dataclass(frozen=True)
class Delivery:
    """One delivery attempt as the insurer sees it in its log."""

    event_id: str
    event_type: str
    seq: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


def new_event_id() -> str:
    """``msg_`` and 26 base32 characters (128 random bits): the ``webhook-id``."""
    return EVENT_ID_PREFIX + base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=").lower()


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def enqueue(
    session: AsyncSession,
    insurer_id: uuid.UUID,
    type: str,  # noqa: A002 - the Standard Webhooks name
    data: dict[str, Any],
) -> str:
    """Write an event for the insurer in the caller's transaction; return its id.

    The payload is the Standard Webhooks body ``{"type", "timestamp", "data"}``; UUIDs,
    dates and times in ``data`` become strings. The insurer's row is locked until commit so
    that its events commit in ``seq`` order: a reader pulling "after seq N" can then never
    miss an event that was still uncommitted when it read. Call this last in a transaction.
    """
    if len(type) > MAX_EVENT_TYPE or not EVENT_TYPE.match(type):
        raise Invalid("event-type-malformed", event_type=type)
    locked = await session.scalar(
        select(Insurer.id).where(Insurer.id == insurer_id).with_for_update(key_share=True)
    )
    if locked is None:
        raise NotFound("insurer-not-found")
    now = utcnow()
    event_id = new_event_id()
    session.add(
        OutboxEvent(
            id=event_id,
            insurer_id=insurer_id,
            type=type,
            payload={"type": type, "timestamp": _timestamp(now), "data": msgspec.to_builtins(data)},
            created_at=now,
            status=EventStatus.PENDING,
            attempts=0,
            next_attempt_at=now,
        )
    )
    await session.flush()
    return event_id


async def check_address(url: str) -> None:
    """Refuse ``url`` if its host may not receive webhooks here (:class:`Invalid`).

    Unless private addresses are allowed (development), every address the host resolves to
    must be a public one, and the scheme https: an insurer must not make this service call
    its own network (metadata services, the database, admin ports). The problem is named
    beside the ``url`` field by its code.
    """
    if get_settings().webhook_private_addresses:
        return
    parts = urlsplit(url)
    if parts.scheme != "https":
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-https-only"})
    try:
        found = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname, parts.port or 443, type=socket.SOCK_STREAM
        )
    except OSError:
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-host-unresolved"}) from None
    for *_, address in found:
        if not ipaddress.ip_address(address[0]).is_global:
            raise Invalid("webhook-url-unusable", fields={"url": "webhook-host-private"})


async def address_problem(url: str) -> str | None:
    """Why ``url``'s host may not receive webhooks here (the code of the problem), or ``None``.

    Checked again at each delivery (:func:`check_address`): a name may resolve elsewhere by
    now.
    """
    try:
        await check_address(url)
    except Invalid as exc:
        return exc.fields["url"]
    return None


def check_webhook_url(url: str) -> str:
    """The URL, trimmed, if it is an absolute http(s) URL we can POST to; else Invalid.

    The error names the problem beside the ``url`` field by its code (``webhook-url-…``).
    """
    url = url.strip()
    if len(url) > MAX_URL:
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-too-long"}, max=MAX_URL)
    if any(c.isspace() or not c.isprintable() for c in url):
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-spaces"})
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        parts = None
    if parts is None or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-not-absolute"})
    if parts.username is not None or parts.password is not None:
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-credentials"})
    if parts.fragment:
        raise Invalid("webhook-url-unusable", fields={"url": "webhook-url-fragment"})
    return url


async def _usable(url: str) -> str:
    checked = check_webhook_url(url)
    await check_address(checked)
    return checked


async def create_insurer(
    session: AsyncSession, cipher: PiiCipher, *, name: str, webhook_url: str | None = None
) -> tuple[Insurer, str]:
    """A new insurer and its signing secret, which is shown this once and stored encrypted."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise Invalid("insurer-name-missing", fields={"name": "insurer-name-length"}, max=MAX_NAME)
    url = await _usable(webhook_url) if webhook_url else None
    if await session.scalar(select(Insurer.id).where(Insurer.name == name)):
        raise Conflict("insurer-exists", name=name)
    secret = new_secret()
    insurer = Insurer(
        name=name,
        webhook_url=url,
        webhook_secret_enc=cipher.encrypt(secret, field=SECRET_FIELD),
    )
    session.add(insurer)
    await session.flush()
    return insurer, secret


async def insurer_for_account(
    session: AsyncSession, cipher: PiiCipher, *, name: str
) -> tuple[Insurer, str | None]:
    """The insurer a new staff account belongs to: the one of that name, else a new one.

    A new insurer's webhook signing secret comes back this once; an existing one's, ``None``.
    """
    found = await session.scalar(select(Insurer).where(Insurer.name == name.strip()))
    if found is not None:
        return found, None
    return await create_insurer(session, cipher, name=name)


async def _locked_insurer(session: AsyncSession, insurer_id: uuid.UUID) -> Insurer:
    insurer = await session.get(Insurer, insurer_id, with_for_update=True)
    if insurer is None:
        raise NotFound("insurer-not-found")
    return insurer


async def rotate_secret(session: AsyncSession, cipher: PiiCipher, insurer_id: uuid.UUID) -> str:
    """Replace the insurer's signing secret; return the new one (shown this once).

    Every delivery from the commit on, retries of older events included, is signed with
    the new secret: the insurer switches its verifier when it receives this answer.
    """
    insurer = await _locked_insurer(session, insurer_id)
    secret = new_secret()
    insurer.webhook_secret_enc = cipher.encrypt(secret, field=SECRET_FIELD)
    await session.flush()
    return secret


def secret_of(cipher: PiiCipher, insurer: Insurer) -> str:
    """The insurer's signing secret in clear (for signing, never for showing again)."""
    return cipher.decrypt(insurer.webhook_secret_enc, field=SECRET_FIELD)


async def set_webhook_url(session: AsyncSession, insurer_id: uuid.UUID, url: str | None) -> Insurer:
    """Point deliveries at ``url``; ``None`` stops pushing (the insurer pulls instead).

    Pending events become due at once, so a fixed or new endpoint gets the backlog now
    rather than after the backoff the old one earned.
    """
    checked = await _usable(url) if url is not None else None
    insurer = await _locked_insurer(session, insurer_id)
    insurer.webhook_url = checked
    if checked is not None:
        await session.execute(
            update(OutboxEvent)
            .where(
                OutboxEvent.insurer_id == insurer_id,
                OutboxEvent.status == EventStatus.PENDING,
            )
            .values(next_attempt_at=utcnow())
        )
    await session.flush()
    return insurer


async def events_after(
    session: AsyncSession, insurer_id: uuid.UUID, after_seq: int, limit: int
) -> Sequence[OutboxEvent]:
    """The insurer's events written after ``after_seq``, oldest first (pulling)."""
    return (
        await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.insurer_id == insurer_id, OutboxEvent.seq > after_seq)
            .order_by(OutboxEvent.seq)
            .limit(limit)
        )
    ).all()


async def deliveries(session: AsyncSession, insurer_id: uuid.UUID, limit: int) -> list[Delivery]:
    """The insurer's most recent delivery attempts, newest first."""
    rows = await session.execute(
        select(DeliveryAttempt, OutboxEvent.type, OutboxEvent.seq)
        .join(OutboxEvent, OutboxEvent.id == DeliveryAttempt.event_id)
        .where(OutboxEvent.insurer_id == insurer_id)
        .order_by(DeliveryAttempt.id.desc())
        .limit(limit)
    )
    return [
        Delivery(
            event_id=a.event_id,
            event_type=type_,
            seq=seq,
            attempted_at=a.attempted_at,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )
        for a, type_, seq in rows
    ]


async def insurer_of(session: AsyncSession, me: Principal) -> uuid.UUID:
    """The insurer an insurer-staff caller works for."""
    if me.role is not Role.INSURER:
        raise Forbidden("insurer-only")
    insurer_id: uuid.UUID | None = getattr(me, "insurer_id", None)
    if insurer_id is None and me.user_id is not None:
        insurer_id = await session.scalar(select(User.insurer_id).where(User.id == me.user_id))
    if insurer_id is None:
        raise NotFound("insurer-account-unlinked")
    return insurer_id
