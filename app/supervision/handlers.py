"""What supervision reacts to: ratings, records, complaints and custody statements.

Every handler runs in the transaction of the change that published the event, so a warning
(or a new custody ratio) exists exactly when its cause does. The warning rules are
:mod:`app.supervision.rules`, the grade actions :mod:`app.supervision.grade_actions`; this
module only connects them to the events of the areas they watch. Handlers of one event run
in the order they are registered here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.closures.events import EmergencyTransferEnded
from app.custody.events import ShortfallFound
from app.events import handles
from app.risk.events import (
    ExitPatternFound,
    GradeRevised,
    RatingChanged,
    RatingFailed,
    RecordIngested,
    SalesFiguresRecorded,
)
from app.supervision import grade_actions, measures, rules
from app.supervision.events import ComplaintFiled

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


@handles(RatingChanged)
async def warn_of_grade_drop(session: AsyncSession, event: RatingChanged) -> None:
    """A grade that fell to D or E, or by two grades or more, is a warning."""
    await rules.on_rating_change(
        session,
        event.merchant_id,
        before=event.before,
        after=event.after,
        change_id=event.change_id,
        evidence=event.evidence,
    )


@handles(GradeRevised)
async def follow_grade(session: AsyncSession, event: GradeRevised) -> None:
    """New sales follow the grade: custody ratio, review hold, hard stop."""
    await grade_actions.follow_grade(
        session,
        event.merchant_id,
        before=event.before,
        grade=event.grade,
        cause=event.cause,
        new_overrides=event.new_overrides,
    )


@handles(ExitPatternFound)
async def warn_of_exit_pattern(session: AsyncSession, event: ExitPatternFound) -> None:
    """The path owners take before a merchant vanishes is a warning."""
    await rules.on_exit_pattern(session, event.merchant_id, event.steps)


@handles(SalesFiguresRecorded)
async def warn_of_sales(session: AsyncSession, event: SalesFiguresRecorded) -> None:
    """A sales surge or a deep discount is a warning (once while open)."""
    await rules.on_sales_figures(session, event.merchant_id, event.figures, event.at)


@handles(RatingFailed)
async def warn_of_stale_grade(session: AsyncSession, event: RatingFailed) -> None:
    """A merchant that cannot be rated is a warning: its grade is out of date."""
    await rules.on_rating_failure(
        session, event.merchant_id, since=event.since, error=event.error, attempts=event.attempts
    )


@handles(RecordIngested)
async def warn_of_hard_override(session: AsyncSession, event: RecordIngested) -> None:
    """A new record that is a hard override (dishonest debtor, licence revoked...)."""
    await rules.on_record(
        session,
        event.merchant_id,
        record_id=event.record_id,
        source=event.source,
        kind=event.kind,
        value=event.value,
        as_of=event.as_of,
    )


@handles(ComplaintFiled)
async def count_complaint(session: AsyncSession, event: ComplaintFiled) -> None:
    """Refresh the complaint indicators, queue a re-rating, check for a surge."""
    await rules.on_complaint(
        session, event.merchant_id, event.filed_at, dispute_id=str(event.dispute_id)
    )


@handles(ShortfallFound)
async def warn_of_shortfall(session: AsyncSession, event: ShortfallFound) -> None:
    """Less in custody than the ledger holds is a warning."""
    await rules.on_shortfall(
        session,
        event.merchant_id,
        statement_id=event.statement_id,
        shortfall=event.shortfall_fen,
        evidence=event.evidence,
    )


@handles(EmergencyTransferEnded)
async def default_after_emergency_transfer(
    session: AsyncSession, event: EmergencyTransferEnded
) -> None:
    """The window to move a failing merchant's cards closed: declare the default it decided.

    Recorded as the measure of the regulator who opened the window, with its reason; custody
    pays every card left and the insurer's claim opens, in the window's closing transaction.
    """
    await measures.declare_default_decided(
        session, event.merchant_id, decided_by=event.decided_by, reason=event.reason
    )
