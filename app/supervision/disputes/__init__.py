"""Consumer disputes: the closed loop from a complaint to the consumer's feedback.

A dispute moves through steps, each with an owner (whose move it is), a deadline and a
timestamp, and each step is also a :class:`~app.supervision.models.DisputeEvent` row (the
timeline). The rules of the workflow (who may take which step from which status, deadlines,
decisions, what each step makes) are :mod:`app.supervision.dispute_rules`, with no database;
the modules here are the use cases that load a dispute, ask those rules and write the answer:

* :mod:`.consumers`: filing, following, confirming and reopening (a consumer or a card link);
* :mod:`.merchants`: the merchant's complaints and its answer;
* :mod:`.regulators`: the regulator's queue and decision, with the money it moves;
* :mod:`.escalation`: overdue steps, run by a worker;
* :mod:`.timeline`: reading disputes with their steps, and writing a step.

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
* **Operators** act as city-level regulators (as for measures and warnings).
* **Escalation** (:func:`escalate_overdue`): a merchant or regulator who lets a deadline pass
  gets the dispute owned by the regulator, ``escalated_at`` set, an ``escalated`` event and a
  ``dispute-overdue`` warning (one per step: the warning's cause key is
  ``dispute:<id>:<step>``). A consumer who neither confirms nor reopens in time is taken to
  accept the decision. ``escalated_at`` describes the current step and is cleared when the
  dispute moves on (the timeline keeps every escalation).

Each use case only flushes; the route owns the transaction.
"""

from app.supervision.dispute_rules import (
    CONFIRM_DAYS,
    MAX_REOPENS,
    MAX_TEXT,
    MEDIATION_DAYS,
    MERCHANT_ANSWER_DAYS,
    OPEN,
    REDECIDE_DAYS,
    Complaint,
    Decision,
    DisputeKind,
    Ruling,
    Step,
    deadline_after,
)
from app.supervision.disputes.complaint_counts import (
    PUBLIC_COMPLAINT_WINDOW,
    complaints_last_year,
    complaints_since,
)
from app.supervision.disputes.consumers import (
    ConsumerSide,
    Filed,
    confirm,
    consumer_dispute,
    consumer_disputes,
    file_complaint,
    reopen,
)
from app.supervision.disputes.escalation import escalate_overdue
from app.supervision.disputes.merchants import answer, merchant_dispute, merchant_disputes
from app.supervision.disputes.regulators import (
    QueueFilter,
    decide,
    hand_over_from,
    queue,
    supervised_dispute,
    with_decisions,
)
from app.supervision.disputes.timeline import DisputeView, timelines

__all__ = [
    "CONFIRM_DAYS",
    "MAX_REOPENS",
    "MAX_TEXT",
    "MEDIATION_DAYS",
    "MERCHANT_ANSWER_DAYS",
    "OPEN",
    "PUBLIC_COMPLAINT_WINDOW",
    "REDECIDE_DAYS",
    "Complaint",
    "ConsumerSide",
    "Decision",
    "DisputeKind",
    "DisputeView",
    "Filed",
    "QueueFilter",
    "Ruling",
    "Step",
    "answer",
    "complaints_last_year",
    "complaints_since",
    "confirm",
    "consumer_dispute",
    "consumer_disputes",
    "deadline_after",
    "decide",
    "escalate_overdue",
    "file_complaint",
    "hand_over_from",
    "merchant_dispute",
    "merchant_disputes",
    "queue",
    "reopen",
    "supervised_dispute",
    "timelines",
    "with_decisions",
]
