"""Consumer disputes: the closed loop from a complaint to the consumer's feedback.

A dispute moves through steps, each with an owner (whose move it is), a deadline and a
timestamp, and each step is also a :class:`DisputeEvent` row (the timeline)::

    filed      owner merchant   answer within MERCHANT_ANSWER_DAYS
      │ merchant answers (text, optional offer)
    mediation  owner regulator  decide within MEDIATION_DAYS
      │ regulator decides: refund (the whole card) | partial (compensation) | reject
    decided    owner consumer   confirm or reopen within CONFIRM_DAYS
      ├─ consumer confirms ──▶ confirmed, owner nobody, closed
      └─ consumer reopens  ──▶ reopened, owner regulator, decide again within REDECIDE_DAYS

Deadlines are business dates, so they are counted in Shanghai calendar days: a step started
on day D must be done by the end of day D + n (midnight Shanghai), stored in UTC.

Choices where the workflow leaves room:

* **One open dispute per card; an identical retry is a replay.** The dispute table has no
  column for an idempotency key, so filing is made idempotent by the card: the card's holder
  row is locked while filing, and while a dispute about the card is open (not confirmed) a
  second one is refused with 409 naming it, except that a filing identical to the open one
  (same kind, text and amount) is answered with that dispute (``replayed``). Once a dispute
  is closed the consumer may file a new one about the same card.
* **Money decisions** go through the escrow ledger in the decision's transaction, with a key
  derived from the dispute and its decision round (``dispute:<id>:decision:<round>``), so
  no retry or race can pay twice. ``refund`` refunds the card's whole outstanding amount (the
  card closes); ``partial`` books a compensation the merchant owes the consumer (the card
  stays open). Every money decision needs an open card: after a refund (or a default
  payout) a second money decision is refused with 409, and only ``reject`` remains. A second
  money decision on a card still open (after reopening a partial) pays its own amount on
  top of the first; nothing in the append-only ledger is undone.
* **A regulator may decide** a dispute in mediation, a reopened one, or a filed one whose
  answer deadline passed (escalated: the merchant did not answer). A filed dispute still
  within the merchant's deadline is refused: the merchant is heard first.
* **A dispute can be reopened once** (:data:`MAX_REOPENS`); the second decision is final on
  the platform (administrative review or court remain open to the consumer).
* **Operators** act as city-level regulators (as for measures and warnings).
* **Escalation** (:func:`escalate_overdue`, run by a worker): a merchant or regulator who
  lets a deadline pass gets the dispute owned by the regulator, ``escalated_at`` set, an
  ``escalated`` event and a ``dispute-overdue`` warning (one per step: the warning's cause key
  is ``dispute:<id>:<step>``). The deadline itself is kept, so the regulator's queue shows the
  dispute as overdue. A consumer who neither confirms nor reopens in time is taken to accept
  the decision: the dispute is closed as confirmed (a ``deemed-confirmed`` event, no
  warning: a silent consumer says nothing about the merchant). ``escalated_at`` describes the
  current step and is cleared when the dispute moves on (the timeline keeps every escalation).

Each function is one use case that only flushes; the route owns the transaction.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import and_, func, select

import escrow
from app.auth.models import Role
from app.clock import SHANGHAI, today, utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Merchant
from app.payables.deadlines import payable_due_at
from app.supervision import rules
from app.supervision.models import (
    Dispute,
    DisputeEvent,
    DisputeOwner,
    DisputeStatus,
    WarningRule,
)
from app.supervision.warnings import raise_warning

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.sql.elements import ColumnElement

    from app.auth.principal import Principal
    from app.cards.models import CardHolder

MERCHANT_ANSWER_DAYS = 3
"""The merchant answers a complaint by the end of the 3rd Shanghai day after it was filed."""
MEDIATION_DAYS = 7
"""The regulator decides within 7 days of the merchant's answer."""
CONFIRM_DAYS = 7
"""The consumer confirms or reopens within 7 days of the decision (silence confirms)."""
REDECIDE_DAYS = 7
"""The regulator decides a reopened dispute within 7 days."""
MAX_REOPENS = 1
"""How many times a consumer may reopen a decided dispute."""
MAX_TEXT = 2000


class DisputeKind(enum.StrEnum):
    """What the complaint is about."""

    NOT_DELIVERED = "not_delivered"
    QUALITY = "quality"
    REFUND_REFUSED = "refund_refused"
    CLOSED_OR_MOVED = "closed_or_moved"
    OTHER = "other"


class Decision(enum.StrEnum):
    """The regulator's decision."""

    REFUND = "refund"
    """Refund the card's whole outstanding amount; the card closes."""
    PARTIAL = "partial"
    """The merchant owes the consumer a stated amount; the card stays open."""
    REJECT = "reject"
    """The complaint is not upheld; no money moves."""


class Step(enum.StrEnum):
    """The steps a timeline records."""

    FILED = "filed"
    ANSWERED = "answered"
    DECIDED = "decided"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"
    ESCALATED = "escalated"
    DEEMED_CONFIRMED = "deemed-confirmed"


OPEN = (DisputeStatus.FILED, DisputeStatus.MEDIATION, DisputeStatus.DECIDED, DisputeStatus.REOPENED)
"""Every status but ``confirmed``."""


PUBLIC_COMPLAINT_WINDOW = timedelta(days=365)
"""The complaints a consumer is shown about a merchant: those filed in the last year."""


async def complaints_last_year(session: AsyncSession, merchant_id: uuid.UUID) -> int:
    """Complaints filed against the merchant in the last year, as consumers are shown them."""
    count = await session.scalar(
        select(func.count()).where(
            Dispute.merchant_id == merchant_id,
            Dispute.filed_at >= utcnow() - PUBLIC_COMPLAINT_WINDOW,
        )
    )
    return int(count or 0)


def deadline_after(now: datetime, days: int) -> datetime:
    """The end of the Shanghai calendar day ``days`` after ``now`` (midnight after it), in UTC."""
    last_day = today(now) + timedelta(days=days + 1)
    return datetime.combine(last_day, time(), tzinfo=SHANGHAI).astimezone(UTC)


def _text(value: str, field: str, what: str) -> str:
    text = value.strip()
    if not text:
        raise Invalid(f"{what} cannot be blank", fields={field: "required"})
    if len(text) > MAX_TEXT:
        raise Invalid(f"{what} is too long", fields={field: f"at most {MAX_TEXT} characters"})
    return text


def _fen(amount: int) -> str:
    return f"¥{amount / 100:,.2f} ({amount} fen)"


def _record(
    session: AsyncSession,
    dispute: Dispute,
    step: Step,
    role: str,
    actor_id: uuid.UUID | None,
    note: str | None,
    at: datetime,
) -> None:
    session.add(
        DisputeEvent(
            dispute_id=dispute.id,
            step=step.value,
            actor_role=role,
            actor_id=actor_id,
            note=note,
            at=at,
        )
    )


@dataclass(frozen=True)
class DisputeView:
    """A dispute and its timeline, oldest step first."""

    dispute: Dispute
    events: list[DisputeEvent]


async def timelines(session: AsyncSession, disputes: Sequence[Dispute]) -> list[DisputeView]:
    """The disputes with their timelines (one query for all of them)."""
    ids = [d.id for d in disputes]
    by_dispute: dict[uuid.UUID, list[DisputeEvent]] = {i: [] for i in ids}
    if ids:
        events = await session.scalars(
            select(DisputeEvent)
            .where(DisputeEvent.dispute_id.in_(ids))
            .order_by(DisputeEvent.at, DisputeEvent.id)
        )
        for event in events:
            by_dispute[event.dispute_id].append(event)
    return [DisputeView(d, by_dispute[d.id]) for d in disputes]


async def _view(session: AsyncSession, dispute: Dispute) -> DisputeView:
    await session.flush()
    return (await timelines(session, [dispute]))[0]


# -- the consumer's side ----------------------------------------------------------------


@dataclass(frozen=True)
class ConsumerSide:
    """Who speaks for the consumer: a signed-in consumer, or an anonymous card link's holder."""

    consumer_id: uuid.UUID | None = None
    card_id: uuid.UUID | None = None
    """Anonymous: the one card its link opens."""

    @classmethod
    def of(cls, who: Principal) -> ConsumerSide:
        """A signed-in consumer."""
        if who.role is not Role.CONSUMER or who.consumer_id is None:
            raise Forbidden("only consumers file and follow complaints")
        return cls(consumer_id=who.consumer_id)

    @classmethod
    def anonymous(cls, holder: CardHolder) -> ConsumerSide:
        """The holder of an anonymous card's link."""
        return cls(card_id=holder.card_id)

    def owns(self) -> ColumnElement[bool]:
        """The disputes this side may see and act on."""
        if self.consumer_id is not None:
            return Dispute.consumer_id == self.consumer_id
        if self.card_id is not None:
            return and_(Dispute.card_id == self.card_id, Dispute.consumer_id.is_(None))
        raise NotFound("no such dispute")  # pragma: no cover - both constructors set one


@dataclass(frozen=True)
class Complaint:
    """What a consumer files."""

    kind: DisputeKind
    text: str
    amount_asked: int
    """Fen the consumer asks back, 0 to the card's price."""


@dataclass(frozen=True)
class Filed:
    """The dispute filed, or the open one an identical retry found."""

    view: DisputeView
    replayed: bool


async def file_complaint(session: AsyncSession, holder: CardHolder, complaint: Complaint) -> Filed:
    """File a complaint about the holder's card; the merchant has to answer it first.

    Pass the holder locked (``holder_for(..., lock=True)``): filings about one card are then
    serialised, so the rule "one open dispute per card" holds under concurrent retries.
    Refreshes the merchant's complaint indicators, queues a re-rating and checks for a surge
    (:func:`rules.on_complaint`) in the same transaction.
    """
    text = _text(complaint.text, "text", "the complaint")
    kind = DisputeKind(complaint.kind)
    open_one = await session.scalar(
        select(Dispute)
        .where(Dispute.card_id == holder.card_id, Dispute.status.in_(OPEN))
        .order_by(Dispute.filed_at.desc())
        .limit(1)
    )
    if open_one is not None:
        if (open_one.kind, open_one.text, open_one.amount_asked) == (
            kind.value,
            text,
            complaint.amount_asked,
        ):
            return Filed(await _view(session, open_one), replayed=True)
        raise Conflict(
            f"a complaint about this card is already open (filed"
            f" {open_one.filed_at:%Y-%m-%d}, now {open_one.status}); follow that one, or add to"
            " it when you confirm or reopen the decision",
            dispute_id=str(open_one.id),
        )
    ledger = escrow_ledger(session)
    card = await ledger.card(holder.merchant_id, holder.card_id)
    if complaint.amount_asked < 0 or complaint.amount_asked > card.paid:
        raise Invalid(
            f"you can ask for at most the {card.paid} fen paid for the card",
            fields={"amount_asked": f"0 to {card.paid} fen"},
        )
    merchant = await session.get(Merchant, holder.merchant_id)
    if merchant is None:  # pragma: no cover - the foreign key guarantees it
        raise NotFound("no such merchant")
    now = utcnow()
    dispute = Dispute(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        district=merchant.district,
        card_id=holder.card_id,
        consumer_id=holder.consumer_id,
        kind=kind.value,
        text=text,
        amount_asked=complaint.amount_asked,
        status=DisputeStatus.FILED.value,
        owner=DisputeOwner.MERCHANT.value,
        deadline_at=deadline_after(now, MERCHANT_ANSWER_DAYS),
        filed_at=now,
    )
    session.add(dispute)
    _record(
        session,
        dispute,
        Step.FILED,
        Role.CONSUMER.value,
        holder.consumer_id,
        f"{kind.value}; asks {_fen(complaint.amount_asked)}",
        now,
    )
    await session.flush()
    await rules.on_complaint(session, merchant.id, now, dispute_id=str(dispute.id))
    return Filed(await _view(session, dispute), replayed=False)


async def consumer_disputes(session: AsyncSession, side: ConsumerSide) -> list[DisputeView]:
    """The consumer's disputes (the link's card's, for an anonymous holder), newest first."""
    found = await session.scalars(
        select(Dispute).where(side.owns()).order_by(Dispute.filed_at.desc())
    )
    return await timelines(session, found.all())


async def _consumers(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    query = select(Dispute).where(Dispute.id == dispute_id, side.owns())
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("no such dispute")
    return found


async def consumer_dispute(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID
) -> DisputeView:
    """One of the consumer's disputes, with its timeline."""
    return await _view(session, await _consumers(session, side, dispute_id))


def _await_decision(dispute: Dispute, doing: str) -> None:
    """Refuse ``doing`` unless the dispute waits for the consumer's feedback on a decision."""
    if dispute.status == DisputeStatus.DECIDED:
        return
    if dispute.status == DisputeStatus.CONFIRMED:
        raise Conflict(f"this dispute is closed; you cannot {doing} it any more")
    waiting = (
        "the merchant's answer"
        if dispute.status == DisputeStatus.FILED and dispute.owner == DisputeOwner.MERCHANT
        else "the regulator's decision"
    )
    raise Conflict(f"there is no decision to {doing} yet: the dispute is waiting for {waiting}")


async def confirm(session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID) -> DisputeView:
    """The consumer accepts the decision: the dispute closes."""
    dispute = await _consumers(session, side, dispute_id, lock=True)
    _await_decision(dispute, "confirm")
    now = utcnow()
    dispute.status = DisputeStatus.CONFIRMED.value
    dispute.owner = DisputeOwner.NOBODY.value
    dispute.deadline_at = None
    dispute.escalated_at = None
    dispute.closed_at = now
    _record(session, dispute, Step.CONFIRMED, Role.CONSUMER.value, side.consumer_id, None, now)
    return await _view(session, dispute)


async def _reopens(session: AsyncSession, dispute_id: uuid.UUID) -> int:
    count = await session.scalar(
        select(func.count()).where(
            DisputeEvent.dispute_id == dispute_id, DisputeEvent.step == Step.REOPENED.value
        )
    )
    return int(count or 0)


async def reopen(
    session: AsyncSession, side: ConsumerSide, dispute_id: uuid.UUID, text: str
) -> DisputeView:
    """The consumer disagrees with the decision: the regulator decides again."""
    reason = _text(text, "text", "the reason for reopening")
    dispute = await _consumers(session, side, dispute_id, lock=True)
    _await_decision(dispute, "reopen")
    now = utcnow()
    if dispute.deadline_at is not None and dispute.deadline_at <= now:
        ended = dispute.deadline_at.astimezone(SHANGHAI)
        raise Conflict(
            f"the time to reopen this decision ended on {ended:%Y-%m-%d %H:%M} (Shanghai)"
        )
    if await _reopens(session, dispute.id) >= MAX_REOPENS:
        raise Conflict(
            "this dispute was already reopened once and decided again; that decision is final"
            " on the platform (you may still seek administrative review or go to court)"
        )
    dispute.status = DisputeStatus.REOPENED.value
    dispute.owner = DisputeOwner.REGULATOR.value
    dispute.deadline_at = deadline_after(now, REDECIDE_DAYS)
    dispute.escalated_at = None
    _record(session, dispute, Step.REOPENED, Role.CONSUMER.value, side.consumer_id, reason, now)
    return await _view(session, dispute)


# -- the merchant's side ----------------------------------------------------------------


def _merchant_of(me: Principal) -> uuid.UUID:
    if me.role is not Role.MERCHANT or me.merchant_id is None:
        raise Forbidden("only merchant staff answer complaints")
    return me.merchant_id


async def merchant_disputes(
    session: AsyncSession, me: Principal, status: str | None = None
) -> list[DisputeView]:
    """The complaints about the caller's merchant, those waiting for its answer first."""
    query = select(Dispute).where(Dispute.merchant_id == _merchant_of(me))
    if status:
        query = query.where(Dispute.status == status)
    query = query.order_by(
        (Dispute.owner != DisputeOwner.MERCHANT.value).asc(),
        Dispute.deadline_at.asc().nulls_last(),
        Dispute.filed_at.desc(),
    )
    return await timelines(session, (await session.scalars(query)).all())


async def _merchants(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    query = select(Dispute).where(Dispute.id == dispute_id, Dispute.merchant_id == _merchant_of(me))
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None:
        raise NotFound("no such dispute")
    return found


async def merchant_dispute(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID
) -> DisputeView:
    """One complaint about the caller's merchant."""
    return await _view(session, await _merchants(session, me, dispute_id))


async def answer(
    session: AsyncSession,
    me: Principal,
    dispute_id: uuid.UUID,
    text: str,
    offer_fen: int | None = None,
) -> DisputeView:
    """The merchant answers (once): the dispute goes to the regulator for mediation.

    A late answer (after the deadline, when the dispute was escalated) is still taken: the
    regulator decides better with it.
    """
    reply = _text(text, "text", "the answer")
    dispute = await _merchants(session, me, dispute_id, lock=True)
    if dispute.status != DisputeStatus.FILED:
        raise Conflict(
            "this complaint was already answered"
            if dispute.answered_at is not None
            else f"this dispute is {dispute.status}; it no longer takes an answer"
        )
    note = reply
    if offer_fen is not None:
        card = await escrow_ledger(session).card(dispute.merchant_id, dispute.card_id)
        if not 0 <= offer_fen <= card.paid:
            raise Invalid(
                f"an offer is at most the {card.paid} fen paid for the card",
                fields={"offer_fen": f"0 to {card.paid} fen"},
            )
        note = f"offers {_fen(offer_fen)}. {reply}"
    now = utcnow()
    dispute.merchant_answer = reply
    dispute.answered_at = now
    dispute.status = DisputeStatus.MEDIATION.value
    dispute.owner = DisputeOwner.REGULATOR.value
    dispute.deadline_at = deadline_after(now, MEDIATION_DAYS)
    dispute.escalated_at = None
    _record(session, dispute, Step.ANSWERED, Role.MERCHANT.value, me.user_id, note, now)
    return await _view(session, dispute)


# -- the regulator's side ---------------------------------------------------------------


def _supervisor(me: Principal) -> None:
    if me.role not in {Role.REGULATOR, Role.OPERATOR}:
        raise Forbidden("only a regulator handles disputes")


def _in_reach(me: Principal) -> ColumnElement[bool] | None:
    """A regulator's district filter; ``None`` for a city-level regulator or an operator."""
    if me.role is Role.REGULATOR and me.district is not None:
        return Dispute.district == me.district
    return None


@dataclass(frozen=True)
class QueueFilter:
    """What the regulator's queue shows; no status means every open dispute."""

    status: DisputeStatus | None = None
    overdue: bool = False
    merchant_id: uuid.UUID | None = None
    limit: int = 200
    offset: int = 0


async def queue(
    session: AsyncSession, me: Principal, wanted: QueueFilter, now: datetime | None = None
) -> list[DisputeView]:
    """Disputes in the caller's reach, the most urgent (earliest deadline) first."""
    _supervisor(me)
    now = now or utcnow()
    query = select(Dispute)
    if (reach := _in_reach(me)) is not None:
        query = query.where(reach)
    if wanted.status is not None:
        query = query.where(Dispute.status == wanted.status.value)
    else:
        query = query.where(Dispute.status.in_(OPEN))
    if wanted.overdue:
        query = query.where(Dispute.status.in_(OPEN), Dispute.deadline_at < now)
    if wanted.merchant_id is not None:
        query = query.where(Dispute.merchant_id == wanted.merchant_id)
    query = query.order_by(
        Dispute.deadline_at.asc().nulls_last(), Dispute.filed_at.asc(), Dispute.id
    )
    found = await session.scalars(query.limit(wanted.limit).offset(wanted.offset))
    return await timelines(session, found.all())


async def _supervised(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, *, lock: bool = False
) -> Dispute:
    _supervisor(me)
    query = select(Dispute).where(Dispute.id == dispute_id)
    found = await session.scalar(query.with_for_update() if lock else query)
    if found is None or not me.sees_district(found.district):
        raise NotFound("no such dispute")
    return found


async def supervised_dispute(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID
) -> DisputeView:
    """A dispute in the caller's reach, with its timeline."""
    return await _view(session, await _supervised(session, me, dispute_id))


def _decidable(dispute: Dispute) -> None:
    """Refuse a decision unless it is the regulator's move."""
    status = DisputeStatus(dispute.status)
    if status in {DisputeStatus.MEDIATION, DisputeStatus.REOPENED}:
        return
    if status is DisputeStatus.FILED:
        if dispute.owner == DisputeOwner.REGULATOR:
            return  # escalated: the merchant let its deadline pass without answering
        deadline = dispute.deadline_at.astimezone(SHANGHAI) if dispute.deadline_at else None
        raise Conflict(
            "the merchant has not answered yet"
            + (f" and has until {deadline:%Y-%m-%d %H:%M} (Shanghai time)" if deadline else "")
            + "; decide once it has answered or its deadline has passed"
        )
    if status is DisputeStatus.DECIDED:
        raise Conflict(
            "this dispute is already decided and waits for the consumer; it can be decided"
            " again only if the consumer reopens it"
        )
    raise Conflict(
        "this dispute is closed (the decision was confirmed); it cannot be decided again"
    )


@dataclass(frozen=True)
class Ruling:
    """A regulator's decision."""

    decision: Decision
    text: str
    amount_fen: int | None = None
    """``partial`` only: what the merchant owes the consumer, 1 fen to the card's price."""


def _check_ruling(ruling: Ruling) -> str:
    text = _text(ruling.text, "text", "the decision's reasons")
    if ruling.decision is Decision.PARTIAL and (ruling.amount_fen or 0) < 1:
        raise Invalid(
            "a partial decision states the amount the merchant owes",
            fields={"amount_fen": "required for a partial decision"},
        )
    if ruling.decision is not Decision.PARTIAL and ruling.amount_fen is not None:
        whole = " (it refunds the card's whole outstanding amount)"
        raise Invalid(
            f"a {ruling.decision} decision takes no amount"
            + (whole if ruling.decision is Decision.REFUND else ""),
            fields={"amount_fen": "only for a partial decision"},
        )
    return text


_CARD_CLOSED = {
    escrow.CardStatus.REFUNDED: "the card was already refunded, so nothing is left on it",
    escrow.CardStatus.DEFAULTED: "the card was paid out when the merchant was declared in"
    " default (custody and insurance pay the consumer)",
}


def _no_money(card_status: str) -> Conflict:
    why = _CARD_CLOSED.get(escrow.CardStatus(card_status), f"the card is {card_status}")
    return Conflict(
        f"no money can be decided on this card: {why}; decide 'reject' (with your reasons) to"
        " close this round without a payment"
    )


async def _pay(
    session: AsyncSession, dispute: Dispute, ruling: Ruling, key: str
) -> tuple[int, int]:
    """Move the decided money; return (amount, ledger entry)."""
    ledger = escrow_ledger(session)
    card = await ledger.card(dispute.merchant_id, dispute.card_id)
    if card.status != escrow.CardStatus.OPEN:
        raise _no_money(card.status)
    amount = ruling.amount_fen or 0
    if ruling.decision is Decision.PARTIAL and amount > card.paid:
        raise Invalid(
            f"the amount is at most the {card.paid} fen paid for the card",
            fields={"amount_fen": f"1 to {card.paid} fen"},
        )
    try:
        if ruling.decision is Decision.REFUND:
            refunded = await ledger.refund(
                dispute.merchant_id,
                dispute.card_id,
                idempotency_key=key,
                payable_due_at=payable_due_at(),
            )
            return refunded.refunded, refunded.seq
        paid = await ledger.compensate(
            dispute.merchant_id,
            dispute.card_id,
            amount=amount,
            idempotency_key=key,
            payable_due_at=payable_due_at(),
        )
    except escrow.CardNotOpen as exc:  # closed between the look above and the ledger's lock
        card = await ledger.card(dispute.merchant_id, dispute.card_id)
        raise _no_money(card.status) from exc
    except escrow.BookFrozen as exc:
        raise Conflict(
            "the merchant has been declared in default: its cards are paid out through custody"
            " and insurance, and no dispute payment can be booked; decide 'reject' to close"
            " this round"
        ) from exc
    return paid.amount, paid.seq


async def decide(
    session: AsyncSession, me: Principal, dispute_id: uuid.UUID, ruling: Ruling
) -> DisputeView:
    """The regulator decides; the money moves in the same transaction; the consumer answers.

    Refused whole (nothing written, nothing paid) if the dispute is not the regulator's to
    decide or the money cannot move.
    """
    text = _check_ruling(ruling)
    dispute = await _supervised(session, me, dispute_id, lock=True)
    _decidable(dispute)
    round_ = await _reopens(session, dispute.id) + 1
    amount: int | None = None
    seq: int | None = None
    if ruling.decision is not Decision.REJECT:
        key = f"dispute:{dispute.id}:decision:{round_}"
        amount, seq = await _pay(session, dispute, ruling, key)
    now = utcnow()
    dispute.decision = ruling.decision.value
    dispute.decided_amount = amount
    dispute.decision_text = text
    dispute.decided_by = me.user_id
    dispute.decided_at = now
    dispute.refund_seq = seq
    dispute.status = DisputeStatus.DECIDED.value
    dispute.owner = DisputeOwner.CONSUMER.value
    dispute.deadline_at = deadline_after(now, CONFIRM_DAYS)
    dispute.escalated_at = None
    what = {
        Decision.REFUND: f"refund of {_fen(amount or 0)} (ledger entry {seq})",
        Decision.PARTIAL: f"the merchant owes {_fen(amount or 0)} (ledger entry {seq})",
        Decision.REJECT: "rejected, no payment",
    }[ruling.decision]
    _record(session, dispute, Step.DECIDED, me.role.value, me.user_id, f"{what}. {text}", now)
    return await _view(session, dispute)


# -- escalation -------------------------------------------------------------------------


async def _step_key(session: AsyncSession, dispute: Dispute) -> str:
    """The overdue step's name, unique within the dispute (``decide-2`` after a reopen)."""
    if dispute.owner == DisputeOwner.MERCHANT:
        return "answer"
    step = "confirm" if dispute.owner == DisputeOwner.CONSUMER else "decide"
    return f"{step}-{await _reopens(session, dispute.id) + 1}"


async def escalate_overdue(session: AsyncSession, now: datetime, *, batch: int = 500) -> int:
    """Escalate every open dispute whose step's deadline has passed; return how many.

    The merchant's or the regulator's missed step: the regulator owns the dispute,
    ``escalated_at`` is set, an ``escalated`` event is written and a ``dispute-overdue``
    warning is raised (cause ``dispute:<id>:<step>``, so never twice). The consumer's missed
    step closes the dispute as confirmed (silence accepts the decision). Idempotent: an
    escalated step is not picked again. Takes at most ``batch`` disputes (locked, skipping
    those a request holds), so workers can share the job; call it again for the rest.
    """
    found = await session.scalars(
        select(Dispute)
        .where(
            Dispute.status.in_(OPEN),
            Dispute.deadline_at < now,
            Dispute.escalated_at.is_(None),
        )
        .order_by(Dispute.deadline_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    done = 0
    for dispute in found.all():
        deadline = dispute.deadline_at
        if deadline is None:  # pragma: no cover - excluded by the query
            continue
        late = f"{deadline.astimezone(SHANGHAI):%Y-%m-%d %H:%M} (Shanghai time)"
        if dispute.owner == DisputeOwner.CONSUMER:
            dispute.status = DisputeStatus.CONFIRMED.value
            dispute.owner = DisputeOwner.NOBODY.value
            dispute.deadline_at = None
            dispute.closed_at = now
            _record(
                session,
                dispute,
                Step.DEEMED_CONFIRMED,
                "system",
                None,
                f"neither confirmed nor reopened by {late}: the decision stands",
                now,
            )
            done += 1
            continue
        step = await _step_key(session, dispute)
        who = "the merchant did not answer" if step == "answer" else "no decision was made"
        dispute.owner = DisputeOwner.REGULATOR.value
        dispute.escalated_at = now
        _record(session, dispute, Step.ESCALATED, "system", None, f"{who} by {late}", now)
        await session.flush()
        await raise_warning(
            session,
            dispute.merchant_id,
            WarningRule.DISPUTE_OVERDUE,
            f"dispute:{dispute.id}:{step}",
            f"dispute overdue: {who} by {late}",
            {
                "dispute_id": str(dispute.id),
                "card_id": str(dispute.card_id),
                "step": step,
                "status": dispute.status,
                "kind": dispute.kind,
                "amount_asked_fen": dispute.amount_asked,
                "filed_at": dispute.filed_at.isoformat(),
                "deadline_at": deadline.isoformat(),
            },
        )
        done += 1
    await session.flush()
    return done
