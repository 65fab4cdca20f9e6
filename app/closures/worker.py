"""The closure worker: texts to holders of closing merchants, and closing dates.

On a closure's date the cards whose holders chose a successor move and the rest are
refunded; then the merchant is closed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from app.auth.sms import sms_sender
from app.background import PeriodicTask
from app.clock import utcnow
from app.closures.service import close_due
from app.closures.texts import deliver_texts
from app.settings import get_settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

    from app.security.pii import PiiCipher


log = structlog.get_logger(__name__)


class ClosureWorker(PeriodicTask):
    """Sends pending notices and closes what is due, every ``interval`` seconds."""

    name = "closure-worker"
    did = "closure notices texted, closures whose date came settled"

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cipher: PiiCipher, **kw: float
    ) -> None:
        super().__init__(sessions, **kw)
        self.cipher = cipher

    async def run_once(self) -> int:
        """One pass; returns how many texts went out and merchants were closed.

        The two are independent: texts failing never hold up a closing day, nor the reverse.
        """
        done = 0
        try:
            done += await deliver_texts(self.sessions, self.cipher, sms_sender(get_settings()))
        except Exception:  # the closings still run; the texts are tried again next pass
            log.exception("closure texts not sent this pass")
        return done + await close_due(self.sessions, utcnow())
