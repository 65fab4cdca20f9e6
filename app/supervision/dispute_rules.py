"""The dispute's rules without a database: whose move it is, by when, and what each step makes.

Everything here takes plain values (a :class:`Standing`, the time, amounts in fen) and gives
back the next :class:`Move` or raises a coded error; nothing reads or writes a row, so every
rule can be tested on its own (``tests/unit/test_dispute_rules.py``). The use cases in
:mod:`app.supervision.disputes` load the dispute, ask these rules, then write what they say.

The workflow, each step with the party who takes it and the deadline it sets::

    filed      owner merchant   answer within MERCHANT_ANSWER_DAYS
      │ merchant answers (text, optional offer)
    mediation  owner regulator  decide within MEDIATION_DAYS
      │ regulator decides: refund (the whole card) | partial (compensation) | reject
    decided    owner consumer   confirm or reopen within CONFIRM_DAYS
      ├─ consumer confirms ──▶ confirmed, owner nobody, closed
      └─ consumer reopens  ──▶ reopened, owner regulator, decide again within REDECIDE_DAYS

A step that misses its deadline escalates (:func:`escalated`): the regulator owns the
dispute, or, when the consumer kept silent, the decision stands and the dispute closes.
A confirmed dispute is closed for good: no step moves it again.

The module is a little over 500 lines on purpose: the whole state machine reads top to bottom
in one place, which is why it was drawn out of the use cases.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING, Literal

from app.clock import SHANGHAI, today
from app.exceptions import Conflict, Forbidden, Invalid

if TYPE_CHECKING:
    import uuid
    from collections.abc import Mapping

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
"""The longest complaint, answer, reasons or reopening a person may write."""


class DisputeStatus(enum.StrEnum):
    """filed → answered (in mediation) → decided → confirmed; decided → reopened → decided."""

    FILED = "filed"
    MEDIATION = "mediation"
    DECIDED = "decided"
    CONFIRMED = "confirmed"
    REOPENED = "reopened"


class DisputeOwner(enum.StrEnum):
    """Whose move it is (and, for a step, the party who takes it)."""

    MERCHANT = "merchant"
    REGULATOR = "regulator"
    CONSUMER = "consumer"
    NOBODY = "nobody"


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
    MERCHANT_DEFAULTED = "merchant-defaulted"
    """The merchant was declared in default: its answer is no longer waited for."""


OPEN = (DisputeStatus.FILED, DisputeStatus.MEDIATION, DisputeStatus.DECIDED, DisputeStatus.REOPENED)
"""Every status but ``confirmed``."""

TAKEN_BY: dict[Step, DisputeOwner] = {
    Step.FILED: DisputeOwner.CONSUMER,
    Step.ANSWERED: DisputeOwner.MERCHANT,
    Step.DECIDED: DisputeOwner.REGULATOR,
    Step.CONFIRMED: DisputeOwner.CONSUMER,
    Step.REOPENED: DisputeOwner.CONSUMER,
}
"""Who takes each step a person takes (escalation is the platform's own)."""

_PARTY_OF_ROLE = {
    "consumer": DisputeOwner.CONSUMER,
    "merchant": DisputeOwner.MERCHANT,
    "regulator": DisputeOwner.REGULATOR,
    "operator": DisputeOwner.REGULATOR,  # operators act as city-level regulators
}
_ONLY = {
    DisputeOwner.CONSUMER: "dispute-consumers-only",
    DisputeOwner.MERCHANT: "dispute-merchants-only",
    DisputeOwner.REGULATOR: "dispute-regulators-only",
}


def check_party(role: str, party: DisputeOwner) -> None:
    """Refuse a caller whose role does not act as ``party`` (an operator acts as a regulator)."""
    if _PARTY_OF_ROLE.get(role) is not party:
        raise Forbidden(_ONLY[party])


def deadline_after(now: datetime, days: int) -> datetime:
    """The end of the Shanghai calendar day ``days`` after ``now`` (midnight after it), in UTC."""
    last_day = today(now) + timedelta(days=days + 1)
    return datetime.combine(last_day, time(), tzinfo=SHANGHAI).astimezone(UTC)


class Writing(enum.StrEnum):
    """What a person writes at a step; each has its own words when blank or too long."""

    COMPLAINT = "complaint"
    ANSWER = "answer"
    REASONS = "reasons"
    """The regulator's reasons for a decision."""
    REOPENING = "reopen-reason"


_BLANK = {
    Writing.COMPLAINT: "dispute-complaint-blank",
    Writing.ANSWER: "dispute-answer-blank",
    Writing.REASONS: "dispute-reasons-blank",
    Writing.REOPENING: "dispute-reopen-reason-blank",
}
_TOO_LONG = {
    Writing.COMPLAINT: "dispute-complaint-too-long",
    Writing.ANSWER: "dispute-answer-too-long",
    Writing.REASONS: "dispute-reasons-too-long",
    Writing.REOPENING: "dispute-reopen-reason-too-long",
}


def written(value: str, what: Writing, field: str = "text") -> str:
    """The text without surrounding blanks; refused when empty or over :data:`MAX_TEXT`."""
    text = value.strip()
    if not text:
        raise Invalid(_BLANK[what], fields={field: _BLANK[what]})
    if len(text) > MAX_TEXT:
        raise Invalid(_TOO_LONG[what], fields={field: _TOO_LONG[what]}, max=MAX_TEXT)
    return text


@dataclass(frozen=True)
class Standing:
    """Where a dispute stands: all the rules read of it."""

    status: DisputeStatus
    owner: DisputeOwner
    deadline_at: datetime | None
    escalated_at: datetime | None = None
    """When the current step was escalated for missing its deadline."""
    answered: bool = False
    """Whether the merchant has answered."""
    reopens: int = 0
    """How many times the consumer reopened it."""
    closed_at: datetime | None = None

    @property
    def is_open(self) -> bool:
        """Every status but confirmed."""
        return self.status is not DisputeStatus.CONFIRMED


@dataclass(frozen=True)
class Overdue:
    """A missed step the regulator is warned about (once: ``key`` is unique in the dispute)."""

    key: str
    """``answer``, ``decide-1``, ``decide-2`` ...: the overdue step, with its round."""


@dataclass(frozen=True)
class Move:
    """What a step makes: the new standing and its line in the timeline."""

    standing: Standing
    step: Step
    note: str | None = None
    """What a person wrote at this step (a reply, a decision's reasons), as written."""
    facts: Mapping[str, object] = field(default_factory=dict)
    """What the step did, as data (the kind and sum asked, an offer, the decision and its ledger
    entry, a missed deadline): each reader's page says it in their language."""
    overdue: Overdue | None = None
    """Escalation of a merchant's or regulator's step only: the warning to raise."""


# -- filing -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Complaint:
    """What a consumer files."""

    kind: DisputeKind
    text: str
    amount_asked: int
    """Fen the consumer asks back, 0 to the card's price."""


def is_replay(open_one: Complaint, asked: Complaint) -> bool:
    """Whether a filing repeats the open dispute exactly (same kind, text and amount)."""
    return (DisputeKind(open_one.kind), open_one.text, open_one.amount_asked) == (
        DisputeKind(asked.kind),
        asked.text,
        asked.amount_asked,
    )


def already_open(
    dispute_id: uuid.UUID, filed_at: datetime, status: DisputeStatus | str
) -> Conflict:
    """The refusal of a second complaint while one about the card is open."""
    return Conflict(
        "dispute-already-open",
        dispute_id=str(dispute_id),
        filed_on=today(filed_at),
        dispute_status=str(DisputeStatus(status)),
    )


def filed(now: datetime, complaint: Complaint, paid: int) -> Move:
    """A new dispute: the merchant answers first. At most the card's price can be asked back."""
    if not 0 <= complaint.amount_asked <= paid:
        code = "dispute-amount-above-paid"
        raise Invalid(code, fields={"amount_asked": code}, paid_fen=paid)
    kind = DisputeKind(complaint.kind)
    return Move(
        Standing(
            DisputeStatus.FILED,
            DisputeOwner.MERCHANT,
            deadline_after(now, MERCHANT_ANSWER_DAYS),
        ),
        Step.FILED,
        facts={"kind": kind.value, "asked_fen": complaint.amount_asked},
    )


# -- the merchant's answer --------------------------------------------------------------------


def answered(
    standing: Standing, now: datetime, reply: str, offer_fen: int | None, paid: int
) -> Move:
    """The merchant answers (once), perhaps offering money: the regulator mediates.

    A late answer (the dispute escalated, still filed) is taken: the regulator decides better
    with it. An offer is at most what was paid for the card.
    """
    if standing.status is not DisputeStatus.FILED:
        if standing.answered:
            raise Conflict("dispute-already-answered")
        raise Conflict("dispute-answer-closed", dispute_status=str(standing.status))
    if offer_fen is not None and not 0 <= offer_fen <= paid:
        code = "dispute-offer-above-paid"
        raise Invalid(code, fields={"offer_fen": code}, paid_fen=paid)
    return Move(
        replace(
            standing,
            status=DisputeStatus.MEDIATION,
            owner=DisputeOwner.REGULATOR,
            deadline_at=deadline_after(now, MEDIATION_DAYS),
            escalated_at=None,
            answered=True,
        ),
        Step.ANSWERED,
        reply,
        {} if offer_fen is None else {"offer_fen": offer_fen},
    )


# -- the regulator's decision -----------------------------------------------------------------


@dataclass(frozen=True)
class Ruling:
    """A regulator's decision."""

    decision: Decision
    text: str
    amount_fen: int | None = None
    """``partial`` only: what the merchant owes the consumer, 1 fen to the card's price."""


_TAKES_NO_AMOUNT = {
    Decision.REFUND: "dispute-refund-takes-no-amount",
    Decision.REJECT: "dispute-reject-takes-no-amount",
}


def ruling_text(ruling: Ruling) -> str:
    """The decision's reasons, once the ruling is whole: an amount for, and only for, partial."""
    text = written(ruling.text, Writing.REASONS)
    if ruling.decision is Decision.PARTIAL and (ruling.amount_fen or 0) < 1:
        code = "dispute-partial-needs-amount"
        raise Invalid(code, fields={"amount_fen": code})
    if ruling.decision is not Decision.PARTIAL and ruling.amount_fen is not None:
        code = _TAKES_NO_AMOUNT[ruling.decision]
        raise Invalid(code, fields={"amount_fen": code})
    return text


def check_decidable(standing: Standing) -> None:
    """Refuse a decision unless it is the regulator's move.

    A regulator decides a dispute in mediation, a reopened one, or a filed one whose answer
    deadline passed (escalated: the merchant did not answer). A filed dispute still within
    the merchant's deadline is refused: the merchant is heard first.
    """
    status = standing.status
    if status in {DisputeStatus.MEDIATION, DisputeStatus.REOPENED}:
        return
    if status is DisputeStatus.FILED:
        if standing.owner is DisputeOwner.REGULATOR:
            return
        raise Conflict("dispute-decide-before-answer", deadline_at=standing.deadline_at)
    if status is DisputeStatus.DECIDED:
        raise Conflict("dispute-already-decided")
    raise Conflict("dispute-closed-cannot-decide")


CARD_OPEN = "open"
"""The ledger's word for a card money can still be decided on (``escrow.CardStatus.OPEN``)."""
_CARD_CLOSED = {"refunded": "dispute-card-refunded", "defaulted": "dispute-card-defaulted"}


def no_money(card_status: str) -> Conflict:
    """Why no money can be decided on a card that is no longer open; 'reject' still can."""
    if card_status not in _CARD_CLOSED:
        return Conflict("dispute-card-not-open", card_status=card_status)
    return Conflict(_CARD_CLOSED[card_status])


def decisions_for(card_status: str) -> tuple[Decision, ...]:
    """The decisions the card can take: all while it is open, else only ``reject``.

    A card refunded or paid out at a default has given the consumer the money; nothing more
    can move on it.
    """
    if card_status == CARD_OPEN:
        return tuple(Decision)
    return (Decision.REJECT,)


def check_payable(ruling: Ruling, card_status: str, paid: int) -> None:
    """Refuse a money decision the card cannot take: it must be open, partial at most paid.

    After a refund (or a default payout) a second money decision is refused and only
    ``reject`` remains; a second one on a card still open pays on top of the first.
    """
    if ruling.decision not in decisions_for(card_status):
        raise no_money(card_status)
    if ruling.decision is Decision.REJECT:
        return
    if ruling.decision is Decision.PARTIAL and (ruling.amount_fen or 0) > paid:
        code = "dispute-decided-above-paid"
        raise Invalid(code, fields={"amount_fen": code}, paid_fen=paid)


def decision_key(dispute_id: uuid.UUID, standing: Standing) -> str:
    """The ledger key of this round's payment: no retry or race pays a round twice."""
    return f"dispute:{dispute_id}:decision:{standing.reopens + 1}"


def decided(
    standing: Standing,
    now: datetime,
    ruling: Ruling,
    text: str,
    amount: int | None = None,
    seq: int | None = None,
) -> Move:
    """The decision taken (``amount`` and ledger entry ``seq`` once the money moved)."""
    check_decidable(standing)
    facts: dict[str, object] = {"decision": ruling.decision.value}
    if ruling.decision is not Decision.REJECT:
        facts |= {"amount_fen": amount or 0, "entry": seq}
    return Move(
        replace(
            standing,
            status=DisputeStatus.DECIDED,
            owner=DisputeOwner.CONSUMER,
            deadline_at=deadline_after(now, CONFIRM_DAYS),
            escalated_at=None,
        ),
        Step.DECIDED,
        text,
        facts,
    )


# -- the consumer's feedback ------------------------------------------------------------------


_CLOSED_CANNOT = {
    "confirm": "dispute-closed-cannot-confirm",
    "reopen": "dispute-closed-cannot-reopen",
}
_AWAITS = {
    ("confirm", True): "dispute-confirm-awaits-answer",
    ("confirm", False): "dispute-confirm-awaits-decision",
    ("reopen", True): "dispute-reopen-awaits-answer",
    ("reopen", False): "dispute-reopen-awaits-decision",
}


def _awaiting_decision(standing: Standing, doing: Literal["confirm", "reopen"]) -> None:
    """Refuse ``doing`` (confirm, reopen) unless a decision waits for the consumer."""
    if standing.status is DisputeStatus.DECIDED:
        return
    if standing.status is DisputeStatus.CONFIRMED:
        raise Conflict(_CLOSED_CANNOT[doing])
    merchant_first = (
        standing.status is DisputeStatus.FILED and standing.owner is DisputeOwner.MERCHANT
    )
    raise Conflict(_AWAITS[doing, merchant_first])


def confirmed(standing: Standing, now: datetime) -> Move:
    """The consumer accepts the decision: the dispute closes."""
    _awaiting_decision(standing, "confirm")
    return Move(
        replace(
            standing,
            status=DisputeStatus.CONFIRMED,
            owner=DisputeOwner.NOBODY,
            deadline_at=None,
            escalated_at=None,
            closed_at=now,
        ),
        Step.CONFIRMED,
    )


def reopened(standing: Standing, now: datetime, reason: str) -> Move:
    """The consumer disagrees (in time, once): the regulator decides again.

    The second decision is final on the platform (administrative review or court remain
    open to the consumer).
    """
    _awaiting_decision(standing, "reopen")
    if standing.deadline_at is not None and standing.deadline_at <= now:
        raise Conflict("dispute-reopen-too-late", ended_at=standing.deadline_at)
    if standing.reopens >= MAX_REOPENS:
        raise Conflict("dispute-reopened-once")
    return Move(
        replace(
            standing,
            status=DisputeStatus.REOPENED,
            owner=DisputeOwner.REGULATOR,
            deadline_at=deadline_after(now, REDECIDE_DAYS),
            escalated_at=None,
            reopens=standing.reopens + 1,
        ),
        Step.REOPENED,
        reason,
    )


# -- escalation -------------------------------------------------------------------------------


def is_overdue(standing: Standing, now: datetime) -> bool:
    """An open step past its deadline, not yet escalated (escalation picks it once)."""
    return (
        standing.is_open
        and standing.deadline_at is not None
        and standing.deadline_at < now
        and standing.escalated_at is None
    )


def overdue_step(standing: Standing) -> str:
    """The overdue step's name, unique within the dispute (``decide-2`` after a reopen)."""
    if standing.owner is DisputeOwner.MERCHANT:
        return "answer"
    step = "confirm" if standing.owner is DisputeOwner.CONSUMER else "decide"
    return f"{step}-{standing.reopens + 1}"


def escalated(standing: Standing, now: datetime) -> Move | None:
    """A missed deadline: ``None`` when the step is not overdue.

    The merchant's or the regulator's missed step: the regulator owns the dispute and is
    warned; the deadline is kept, so the queue shows the dispute overdue. The consumer's
    missed step closes the dispute as confirmed (silence accepts the decision; no warning:
    a silent consumer says nothing about the merchant).
    """
    if not is_overdue(standing, now) or standing.deadline_at is None:
        return None
    missed = {"deadline": standing.deadline_at.isoformat()}
    if standing.owner is DisputeOwner.CONSUMER:
        return Move(
            replace(
                standing,
                status=DisputeStatus.CONFIRMED,
                owner=DisputeOwner.NOBODY,
                deadline_at=None,
                closed_at=now,
            ),
            Step.DEEMED_CONFIRMED,
            facts=missed,
        )
    key = overdue_step(standing)
    return Move(
        replace(standing, owner=DisputeOwner.REGULATOR, escalated_at=now),
        Step.ESCALATED,
        facts={"overdue": key, **missed},
        overdue=Overdue(key),
    )


def merchant_defaulted(standing: Standing, now: datetime) -> Move | None:
    """A merchant in default answers nothing more: a dispute waiting on it passes on.

    The regulator decides within MEDIATION_DAYS (``None``: the dispute was not waiting on it).

    Its cards were paid out at the default (custody now, the rest by the insurer's claim), so
    what is left to decide is whether the complaint stands; no money can move.
    """
    if not standing.is_open or standing.owner is not DisputeOwner.MERCHANT:
        return None
    return Move(
        replace(
            standing,
            owner=DisputeOwner.REGULATOR,
            deadline_at=deadline_after(now, MEDIATION_DAYS),
            escalated_at=None,
        ),
        Step.MERCHANT_DEFAULTED,
    )
