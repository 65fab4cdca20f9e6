"""What an insurer does with its events: pull them, read the delivery log, set the endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.params import FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Cipher, Db, Me
from app.outbox import service as outbox
from app.outbox.service import MAX_URL

NO_STORE = {"Cache-Control": "no-store"}


class EventOut(msgspec.Struct):
    """An event as pushed, with whether a push was acknowledged (``status``).

    ``id`` is the ``webhook-id``; ``type``, ``timestamp`` and ``data`` are the webhook's body.
    """

    id: str
    seq: int
    type: str
    timestamp: str
    data: dict[str, Any]
    status: str
    attempts: int
    delivered_at: datetime | None


class EventsPage(msgspec.Struct):
    """Events after a sequence number; ask again with ``after=next_after`` for more."""

    events: list[EventOut]
    next_after: int


class DeliveryOut(msgspec.Struct):
    """One delivery attempt and what the insurer's endpoint answered."""

    event_id: str
    event_type: str
    seq: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookIn(msgspec.Struct, forbid_unknown_fields=True):
    """Where to push events; ``null`` to stop pushing and only pull."""

    url: Annotated[str, msgspec.Meta(max_length=MAX_URL)] | None


class WebhookOut(msgspec.Struct):
    """The endpoint events are pushed to (``null``: none, the insurer pulls)."""

    url: str | None


class SecretOut(msgspec.Struct):
    """A new signing secret, shown this once."""

    secret: str


class InsurerEventsController(Controller):
    """An insurer's own events and webhook settings; never another insurer's."""

    path = "/insurer"
    tags = ["insurers"]  # noqa: RUF012
    guards = [requires(Role.INSURER)]  # noqa: RUF012

    @get("/events")
    async def events(
        self,
        db: Db,
        me: Me,
        after: FromQuery[Annotated[int, msgspec.Meta(ge=0)]] = 0,
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=1000)]] = 100,
    ) -> EventsPage:
        """The caller's events after sequence number ``after``, oldest first.

        Pulling needs no webhook and sees every event, pushed or not; an event may also
        have been pushed, and the ``id`` is the same either way, so dedupe on it.
        """
        insurer_id = await outbox.insurer_of(db, me)
        rows = await outbox.events_after(db, insurer_id, after, limit)
        return EventsPage(
            events=[
                EventOut(
                    id=e.id,
                    seq=e.seq,
                    type=e.type,
                    timestamp=e.payload["timestamp"],
                    data=e.payload["data"],
                    status=e.status,
                    attempts=e.attempts,
                    delivered_at=e.delivered_at,
                )
                for e in rows
            ],
            next_after=rows[-1].seq if rows else after,
        )

    @get("/deliveries")
    async def deliveries(
        self,
        db: Db,
        me: Me,
        limit: FromQuery[Annotated[int, msgspec.Meta(ge=1, le=1000)]] = 100,
    ) -> list[DeliveryOut]:
        """The most recent push attempts to the caller's endpoint, newest first."""
        insurer_id = await outbox.insurer_of(db, me)
        return [
            DeliveryOut(
                event_id=d.event_id,
                event_type=d.event_type,
                seq=d.seq,
                attempted_at=d.attempted_at,
                status_code=d.status_code,
                error=d.error,
                duration_ms=d.duration_ms,
            )
            for d in await outbox.deliveries(db, insurer_id, limit)
        ]

    @put("/webhook")
    async def set_webhook(self, data: JSONBody[WebhookIn], db: Db, me: Me) -> WebhookOut:
        """Set the endpoint; pending events are then tried there at once."""
        async with db.begin():
            insurer_id = await outbox.insurer_of(db, me)
            insurer = await outbox.set_webhook_url(db, insurer_id, data.url)
        return WebhookOut(url=insurer.webhook_url)

    @post("/webhook/secret", status_code=HTTP_200_OK)
    async def rotate_secret(self, db: Db, me: Me, cipher: Cipher) -> Response[SecretOut]:
        """Replace the signing secret; the answer is the only time the new one is shown.

        Every push from now on, retries included, is signed with the new secret.
        """
        async with db.begin():
            insurer_id = await outbox.insurer_of(db, me)
            secret = await outbox.rotate_secret(db, cipher, insurer_id)
        return Response(SecretOut(secret=secret), headers=NO_STORE)
