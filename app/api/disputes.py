"""Disputes over HTTP: consumers file and follow, merchants answer, regulators decide.

Register every controller of :data:`DISPUTE_CONTROLLERS` on the app.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import msgspec
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import public, requires
from app.cards.service import holder_for
from app.clock import utcnow
from app.deps import Db, Me
from app.idempotency import IdempotencyKey
from app.supervision import disputes
from app.supervision.disputes import ConsumerSide, Decision, DisputeKind, DisputeView
from app.supervision.models import DisputeStatus

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=disputes.MAX_TEXT)]
"""A blank (spaces only) text passes here and is refused by the use case, beside its field."""
Fen = Annotated[int, msgspec.Meta(ge=0, le=10**12)]

CONSUMER = requires(Role.CONSUMER)
MERCHANT = requires(Role.MERCHANT)
SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)


class ComplaintIn(msgspec.Struct, forbid_unknown_fields=True):
    """A complaint about one of the consumer's cards."""

    kind: DisputeKind
    text: Text
    amount_asked: Fen
    """Fen asked back, at most the card's price."""


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    """The merchant's answer, and what it offers the consumer (fen), if anything."""

    text: Text
    offer_fen: Fen | None = None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The regulator's decision; ``amount_fen`` only (and always) for ``partial``."""

    decision: Decision
    text: Text
    amount_fen: Annotated[int, msgspec.Meta(ge=1, le=10**12)] | None = None


class ReopenIn(msgspec.Struct, forbid_unknown_fields=True):
    """Why the consumer does not accept the decision."""

    text: Text


class EventOut(msgspec.Struct):
    """One step of the timeline."""

    step: str
    actor_role: str
    at: datetime
    note: str | None
    """What the person wrote at this step, as written."""
    facts: dict[str, Any]
    """What the step did: ``kind`` and ``asked_fen`` (filed), ``offer_fen`` (answered),
    ``decision``, ``amount_fen`` and ledger ``entry`` (decided), ``overdue`` and ``deadline``
    (escalated, deemed-confirmed)."""


class DisputeOut(msgspec.Struct):
    """A dispute: where it stands, whose move it is and by when, and every step so far."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    district: str
    card_id: uuid.UUID
    kind: str
    text: str
    amount_asked: int
    status: str
    owner: str
    """Whose move it is: merchant, regulator, consumer, or nobody (closed)."""
    deadline_at: datetime | None
    overdue: bool
    escalated_at: datetime | None
    """When the current step was escalated for missing its deadline."""
    filed_at: datetime
    merchant_answer: str | None
    answered_at: datetime | None
    decision: str | None
    decided_amount: int | None
    decision_text: str | None
    decided_at: datetime | None
    refund_seq: int | None
    """The ledger entry that paid the decision."""
    closed_at: datetime | None
    timeline: list[EventOut]


def dispute_out(view: DisputeView, now: datetime | None = None) -> DisputeOut:
    """The API view of a dispute and its timeline."""
    d = view.dispute
    now = now or utcnow()
    return DisputeOut(
        id=d.id,
        merchant_id=d.merchant_id,
        district=d.district,
        card_id=d.card_id,
        kind=d.kind,
        text=d.text,
        amount_asked=d.amount_asked,
        status=d.status,
        owner=d.owner,
        deadline_at=d.deadline_at,
        overdue=d.deadline_at is not None and d.deadline_at < now,
        escalated_at=d.escalated_at,
        filed_at=d.filed_at,
        merchant_answer=d.merchant_answer,
        answered_at=d.answered_at,
        decision=d.decision,
        decided_amount=d.decided_amount,
        decision_text=d.decision_text,
        decided_at=d.decided_at,
        refund_seq=d.refund_seq,
        closed_at=d.closed_at,
        timeline=[EventOut(e.step, e.actor_role, e.at, e.note, e.facts) for e in view.events],
    )


def _filed_response(filed: disputes.Filed) -> Response[DisputeOut]:
    return Response(
        dispute_out(filed.view),
        status_code=HTTP_200_OK if filed.replayed else HTTP_201_CREATED,
        headers={"Idempotent-Replayed": "true"} if filed.replayed else None,
    )


def _complaint(data: ComplaintIn) -> disputes.Complaint:
    return disputes.Complaint(kind=data.kind, text=data.text, amount_asked=data.amount_asked)


class ConsumerDisputeController(Controller):
    """A signed-in consumer's complaints about its own cards."""

    path = "/me"
    tags = ["disputes"]  # noqa: RUF012
    guards = [CONSUMER]  # noqa: RUF012

    @post("/cards/{card_id:uuid}/disputes", status_code=HTTP_201_CREATED)
    async def file(
        self,
        card_id: FromPath[uuid.UUID],
        data: JSONBody[ComplaintIn],
        db: Db,
        me: Me,
        idempotency_key: IdempotencyKey,  # noqa: ARG002 - a retry is a replay: one open per card
    ) -> Response[DisputeOut]:
        """File a complaint; the merchant has 3 days to answer. A retry replays (200)."""
        async with db.begin():
            holder = await holder_for(db, me, card_id=card_id, lock=True)
            filed = await disputes.file_complaint(db, holder, _complaint(data))
        return _filed_response(filed)

    @get("/disputes")
    async def list_(self, db: Db, me: Me) -> list[DisputeOut]:
        """The consumer's complaints, newest first, each with its timeline."""
        found = await disputes.consumer_disputes(db, ConsumerSide.of(me))
        return [dispute_out(v) for v in found]

    @get("/disputes/{dispute_id:uuid}")
    async def one(self, dispute_id: FromPath[uuid.UUID], db: Db, me: Me) -> DisputeOut:
        """One complaint with its timeline."""
        return dispute_out(await disputes.consumer_dispute(db, ConsumerSide.of(me), dispute_id))

    @post("/disputes/{dispute_id:uuid}/confirm", status_code=HTTP_200_OK)
    async def confirm(self, dispute_id: FromPath[uuid.UUID], db: Db, me: Me) -> DisputeOut:
        """Accept the regulator's decision: the dispute closes."""
        async with db.begin():
            view = await disputes.confirm(db, ConsumerSide.of(me), dispute_id)
        return dispute_out(view)

    @post("/disputes/{dispute_id:uuid}/reopen", status_code=HTTP_200_OK)
    async def reopen(
        self, dispute_id: FromPath[uuid.UUID], data: JSONBody[ReopenIn], db: Db, me: Me
    ) -> DisputeOut:
        """Do not accept the decision (once): the regulator decides again."""
        async with db.begin():
            view = await disputes.reopen(db, ConsumerSide.of(me), dispute_id, data.text)
        return dispute_out(view)


class AnonymousDisputeController(Controller):
    """Complaints about an anonymous card, reached only through its secret card link."""

    path = "/cards/anonymous/{secret:str}/disputes"
    tags = ["disputes"]  # noqa: RUF012
    guards = [public]  # noqa: RUF012

    @post("/", status_code=HTTP_201_CREATED)
    async def file(
        self,
        secret: FromPath[str],
        data: JSONBody[ComplaintIn],
        db: Db,
        idempotency_key: IdempotencyKey,  # noqa: ARG002 - a retry is a replay: one open per card
    ) -> Response[DisputeOut]:
        """File a complaint about the card behind the link."""
        async with db.begin():
            holder = await holder_for(db, None, secret=secret, lock=True)
            filed = await disputes.file_complaint(db, holder, _complaint(data))
        return _filed_response(filed)

    @get("/")
    async def list_(self, secret: FromPath[str], db: Db) -> list[DisputeOut]:
        """The card's complaints, newest first."""
        holder = await holder_for(db, None, secret=secret)
        found = await disputes.consumer_disputes(db, ConsumerSide.anonymous(holder))
        return [dispute_out(v) for v in found]

    @get("/{dispute_id:uuid}")
    async def one(
        self, secret: FromPath[str], dispute_id: FromPath[uuid.UUID], db: Db
    ) -> DisputeOut:
        """One complaint about the card, with its timeline."""
        holder = await holder_for(db, None, secret=secret)
        side = ConsumerSide.anonymous(holder)
        return dispute_out(await disputes.consumer_dispute(db, side, dispute_id))

    @post("/{dispute_id:uuid}/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self, secret: FromPath[str], dispute_id: FromPath[uuid.UUID], db: Db
    ) -> DisputeOut:
        """Accept the decision."""
        async with db.begin():
            holder = await holder_for(db, None, secret=secret)
            view = await disputes.confirm(db, ConsumerSide.anonymous(holder), dispute_id)
        return dispute_out(view)

    @post("/{dispute_id:uuid}/reopen", status_code=HTTP_200_OK)
    async def reopen(
        self,
        secret: FromPath[str],
        dispute_id: FromPath[uuid.UUID],
        data: JSONBody[ReopenIn],
        db: Db,
    ) -> DisputeOut:
        """Do not accept the decision (once)."""
        async with db.begin():
            holder = await holder_for(db, None, secret=secret)
            side = ConsumerSide.anonymous(holder)
            view = await disputes.reopen(db, side, dispute_id, data.text)
        return dispute_out(view)


class MerchantDisputeController(Controller):
    """Complaints about the caller's merchant, and its answers."""

    path = "/merchants/me/disputes"
    tags = ["disputes"]  # noqa: RUF012
    guards = [MERCHANT]  # noqa: RUF012

    @get("/")
    async def list_(
        self, db: Db, me: Me, status: FromQuery[DisputeStatus | None] = None
    ) -> list[DisputeOut]:
        """Complaints, those waiting for the merchant's answer first (earliest deadline)."""
        return [dispute_out(v) for v in await disputes.merchant_disputes(db, me, status)]

    @get("/{dispute_id:uuid}")
    async def one(self, dispute_id: FromPath[uuid.UUID], db: Db, me: Me) -> DisputeOut:
        """One complaint with its timeline."""
        return dispute_out(await disputes.merchant_dispute(db, me, dispute_id))

    @post("/{dispute_id:uuid}/answer", status_code=HTTP_200_OK)
    async def answer(
        self, dispute_id: FromPath[uuid.UUID], data: JSONBody[AnswerIn], db: Db, me: Me
    ) -> DisputeOut:
        """Answer (once); the dispute goes to the regulator for mediation."""
        async with db.begin():
            view = await disputes.answer(db, me, dispute_id, data.text, data.offer_fen)
        return dispute_out(view)


class RegulatorDisputeController(Controller):
    """The regulator's dispute queue (its district; all for city level and operators)."""

    path = "/disputes"
    tags = ["disputes"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @get("/")
    async def queue(
        self,
        db: Db,
        me: Me,
        status: FromQuery[DisputeStatus | None] = None,
        overdue: FromQuery[bool] = False,  # noqa: FBT002 - a query flag
        merchant_id: FromQuery[uuid.UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 200,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[DisputeOut]:
        """Open disputes (or those of ``status``), earliest deadline first."""
        wanted = disputes.QueueFilter(
            status=status,
            overdue=overdue,
            merchant_id=merchant_id,
            limit=limit,
            offset=offset,
        )
        now = utcnow()
        return [dispute_out(v, now) for v in await disputes.queue(db, me, wanted, now)]

    @get("/{dispute_id:uuid}")
    async def one(self, dispute_id: FromPath[uuid.UUID], db: Db, me: Me) -> DisputeOut:
        """A dispute with its timeline."""
        return dispute_out(await disputes.supervised_dispute(db, me, dispute_id))

    @post("/{dispute_id:uuid}/decide", status_code=HTTP_200_OK)
    async def decide(
        self, dispute_id: FromPath[uuid.UUID], data: JSONBody[DecisionIn], db: Db, me: Me
    ) -> DisputeOut:
        """Decide: refund the card, a partial compensation, or reject; money moves at once."""
        ruling = disputes.Ruling(decision=data.decision, text=data.text, amount_fen=data.amount_fen)
        async with db.begin():
            view = await disputes.decide(db, me, dispute_id, ruling)
        return dispute_out(view)


DISPUTE_CONTROLLERS = (
    ConsumerDisputeController,
    AnonymousDisputeController,
    MerchantDisputeController,
    RegulatorDisputeController,
)
"""Register each on the app (``app/asgi.py`` ROUTES)."""
