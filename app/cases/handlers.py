"""What cases react to: the risk engine's warnings go to the merchant's street office."""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.cases.service import send_warning_to_street
from app.events import handles
from app.supervision.events import WarningRaised

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@handles(WarningRaised)
async def warnings_go_to_the_street(session: AsyncSession, event: WarningRaised) -> None:
    """Open the warning's case in the street office's list, in the warning's transaction."""
    await send_warning_to_street(session, event.warning_id)
