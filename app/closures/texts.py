"""Telling holders of a closing merchant by text: one message per holder, kept with its status.

Texts go out after the closure is committed, from the closure worker: a notification is
taken with ``FOR UPDATE SKIP LOCKED`` (so several workers never send one twice at once),
handed to the deployment's SMS sender, and marked sent in the same transaction. A text whose
transaction then fails to commit is sent again on the next pass: a holder may, rarely, read
the notice twice, never miss it. With no gateway configured a text is marked failed, saying
why, and the notice on the card's page still stands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select

from app.auth.models import Consumer
from app.clock import SHANGHAI, utcnow
from app.closures.models import Channel, Closure, DeliveryStatus, Notification
from app.exceptions import AppError
from app.i18n.catalogues import gettext
from app.merchants.models import Merchant

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.auth.sms import SmsSender
    from app.security.pii import PiiCipher

MAX_ATTEMPTS = 5
"""Passes a text is tried on before it is marked failed."""
log = structlog.get_logger(__name__)
LANG = "zh"
"""Texts are in Chinese: a phone number says nothing of its owner's language."""
MESSAGE = {
    "closure": "sms.closure-notice",
    "relocation": "sms.relocation-notice",
    "emergency": "sms.emergency-notice",
}
"""The text of each kind of notice (message ids in the catalogues)."""


def closure_text(merchant: Merchant, closure: Closure) -> str:
    """The text a holder receives."""
    day = closure.closes_at.astimezone(SHANGHAI).date().isoformat()
    return gettext(LANG, MESSAGE[closure.kind], merchant=merchant.legal_name, date=day)


async def deliver_texts(
    sessions: async_sessionmaker[AsyncSession],
    cipher: PiiCipher,
    sender: SmsSender,
    *,
    batch: int = 100,
) -> int:
    """Send the pending texts, a batch per transaction; returns how many were sent.

    A text that cannot be sent now (a gateway's error) stays pending for the next pass, and
    is marked failed after :data:`MAX_ATTEMPTS`; one text's failure never holds up the others.
    """
    sent = 0
    tried: set[uuid.UUID] = set()
    while True:
        async with sessions() as session, session.begin():
            due = (
                await session.execute(
                    select(Notification, Consumer, Closure, Merchant)
                    .join(Consumer, Consumer.id == Notification.consumer_id)
                    .join(Closure, Closure.id == Notification.closure_id)
                    .join(Merchant, Merchant.id == Closure.merchant_id)
                    .where(
                        Notification.channel == Channel.SMS,
                        Notification.status == DeliveryStatus.PENDING,
                        Notification.id.not_in(tried),
                    )
                    .order_by(Notification.created_at)
                    .limit(batch)
                    .with_for_update(of=Notification, skip_locked=True)
                )
            ).all()
            if not due:
                return sent
            for note, consumer, closure, merchant in due:
                tried.add(note.id)
                note.attempts += 1
                try:
                    phone = cipher.decrypt(consumer.phone_enc, field="phone")
                    await sender.send(
                        session, phone, consumer.phone_hash, closure_text(merchant, closure)
                    )
                except AppError as refused:  # no gateway: say so, and stop trying
                    note.status, note.error = DeliveryStatus.FAILED, refused.code
                except Exception as failed:  # noqa: BLE001 - kept, retried, never lost
                    note.error = type(failed).__name__
                    if note.attempts >= MAX_ATTEMPTS:
                        note.status = DeliveryStatus.FAILED
                    log.warning("closure text not sent", error=note.error, attempts=note.attempts)
                else:
                    note.status, note.sent_at = DeliveryStatus.SENT, utcnow()
                    sent += 1
