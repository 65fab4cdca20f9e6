"""Text messages to phones: the sender is chosen from settings in this one place.

Only a sandbox exists so far: it keeps each text in the ``sandbox_sms`` table, where tests
read codes and from where the sign-in page shows the demo's visitor the text "received". It
never writes a text to the log: a sign-in code is a secret. Without it (``PGUARD_SMS`` set to
anything else) there is no gateway yet, so sign-in by SMS is refused with a clear error
rather than texting nobody.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import structlog
from sqlalchemy import select

from app.auth.models import SandboxSms
from app.clock import utcnow
from app.exceptions import Unavailable
from app.security.pii import mask_phone

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.settings import Settings

log = structlog.get_logger(__name__)


@runtime_checkable
class SmsSender(Protocol):
    """Sends one text; writes, if it writes, in the caller's transaction."""

    async def send(self, session: AsyncSession, phone: str, phone_hash: bytes, body: str) -> None:
        """Send ``body`` to ``phone`` (normalised); ``phone_hash`` is its lookup hash."""


class SandboxTexts:
    """The sandbox: each text is kept in ``sandbox_sms``, never sent."""

    async def send(self, session: AsyncSession, phone: str, phone_hash: bytes, body: str) -> None:
        """Keep the text where tests and the demo's users can read it."""
        session.add(SandboxSms(phone_hash=phone_hash, body=body, created_at=utcnow()))
        log.info("sandbox sms kept", to=mask_phone(phone), chars=len(body))

    async def last_text(self, session: AsyncSession, phone_hash: bytes) -> str | None:
        """The newest text "sent" to a phone: what its owner would read on the phone."""
        return await session.scalar(
            select(SandboxSms.body)
            .where(SandboxSms.phone_hash == phone_hash)
            .order_by(SandboxSms.id.desc())
            .limit(1)
        )


class NoTexts:
    """No SMS gateway is configured: refuse, so that no code is made that nobody receives."""

    async def send(
        self,
        session: AsyncSession,  # noqa: ARG002
        phone: str,  # noqa: ARG002
        phone_hash: bytes,  # noqa: ARG002
        body: str,  # noqa: ARG002
    ) -> None:
        """Refuse: nothing can be texted."""
        raise Unavailable("sms-unavailable")


def sms_sender(settings: Settings) -> SmsSender:
    """The sender ``PGUARD_SMS`` names: the sandbox, or none."""
    return SandboxTexts() if settings.security.sms_sandbox else NoTexts()
