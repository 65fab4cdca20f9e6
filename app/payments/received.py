"""Every provider notification is kept once: a repeat of an event id is a duplicate."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.clock import utcnow
from app.payments.models import PaymentNotification

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.payments.provider import PaymentEvent


async def first_time(
    session: AsyncSession,
    event: PaymentEvent,
    *,
    order_id: uuid.UUID | None = None,
    payment_id: uuid.UUID | None = None,
) -> bool:
    """Keep the notification about an order or a merchant's payment; False for a duplicate."""
    stored = await session.execute(
        pg_insert(PaymentNotification)
        .values(
            provider=event.provider,
            event_id=event.event_id,
            order_id=order_id,
            payment_id=payment_id,
            kind=event.status,
            payload=event.payload,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(PaymentNotification.event_id)
    )
    return stored.first() is not None
