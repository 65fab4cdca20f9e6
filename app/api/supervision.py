"""The regulator's warnings queue and measures against merchants."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, get, post
from litestar.params import FromPath, FromQuery, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Db, Me
from app.supervision import grade_actions, measures, warnings

if TYPE_CHECKING:
    from app.supervision.models import Measure, WarningNote
    from app.supervision.models import Warning as WarningRow

SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)
Reason = Annotated[str, msgspec.Meta(min_length=1, max_length=measures.MAX_REASON)]
"""Why (a blank one is refused by the use case: a measure says why)."""


class NoteOut(msgspec.Struct):
    """A note on a warning."""

    id: uuid.UUID
    author: uuid.UUID
    text: str
    at: datetime


class WarningOut(msgspec.Struct):
    """A warning with its evidence and where it stands."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    district: str
    rule: str
    title: str
    evidence: dict[str, Any]
    status: str
    raised_at: datetime
    assigned_to: uuid.UUID | None
    acknowledged_at: datetime | None
    closed_at: datetime | None
    feedback: str | None
    notes: list[NoteOut] | None = None


class MeasureIn(msgspec.Struct, forbid_unknown_fields=True):
    """A measure and why; ``custody_ratio_bp`` only for raising the ratio."""

    kind: Literal[
        "raise-custody-ratio",
        "lift-custody-ratio",
        "suspend-sales",
        "lift-suspension",
        "declare-default",
    ]
    reason: Reason
    custody_ratio_bp: Annotated[int, msgspec.Meta(ge=0, le=measures.MAX_RATIO_BP)] | None = None
    confirm: bool = False
    """Declaring default moves money and cannot be undone: it must be confirmed."""


class MeasureOut(msgspec.Struct):
    """A measure taken: what, by whom, when, why, and what it did."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    kind: str
    reason: str
    params: dict[str, Any]
    taken_by: uuid.UUID | None
    """None for the platform's own measures (grade actions)."""
    taken_at: datetime


def warning_out(w: WarningRow, notes: list[WarningNote] | None = None) -> WarningOut:
    """The API view of a warning."""
    return WarningOut(
        id=w.id,
        merchant_id=w.merchant_id,
        district=w.district,
        rule=w.rule,
        title=w.title,
        evidence=w.evidence,
        status=w.status,
        raised_at=w.raised_at,
        assigned_to=w.assigned_to,
        acknowledged_at=w.acknowledged_at,
        closed_at=w.closed_at,
        feedback=w.feedback,
        notes=None
        if notes is None
        else [NoteOut(n.id, n.author, n.text, n.created_at) for n in notes],
    )


def taken_out(taken: measures.Taken) -> dict[str, Any]:
    """A measure just taken; declaring default adds what was paid and the claim opened."""
    extra: dict[str, Any] = {}
    if taken.payout is not None:
        extra = {
            "cards": len(taken.payout.cards),
            "outstanding_fen": taken.payout.total_outstanding,
            "custody_paid_fen": taken.payout.total_custody_paid,
            "claim_fen": taken.payout.total_claim,
            "claim_id": str(taken.claim.id) if taken.claim else None,
        }
    return {**msgspec.to_builtins(measure_out(taken.measure)), **extra}


def measure_out(m: Measure) -> MeasureOut:
    """The API view of a measure."""
    return MeasureOut(
        id=m.id,
        merchant_id=m.merchant_id,
        kind=m.kind,
        reason=m.reason,
        params=m.params,
        taken_by=m.taken_by,
        taken_at=m.taken_at,
    )


class GradeActionIn(msgspec.Struct, forbid_unknown_fields=True):
    """What one grade does to new sales."""

    custody_ratio_bp: Annotated[int, msgspec.Meta(ge=0, le=10_000)]
    sales: Literal["allowed", "review"]


class GradeActionsIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new version of the district's grade actions, every grade A–E, and why."""

    actions: dict[str, GradeActionIn]
    reason: Reason


class GradeActionsOut(msgspec.Struct):
    """Grade actions in force: whose (a district, or ``*`` for the city), which version, why."""

    district: str
    version: int
    actions: dict[str, dict[str, Any]]
    reason: str


class GradeActionsVersionOut(GradeActionsOut):
    """One version in the history, with who set it and when."""

    created_by: uuid.UUID | None
    created_at: datetime


class GradeActionsView(msgspec.Struct):
    """The actions in force for the caller's district, and every version that applies."""

    in_force: GradeActionsOut
    history: list[GradeActionsVersionOut]


class LiftBlocksIn(msgspec.Struct, forbid_unknown_fields=True):
    """Merchants whose sales blocks to lift, all or none, and why."""

    merchant_ids: Annotated[
        list[uuid.UUID], msgspec.Meta(min_length=1, max_length=measures.MAX_BULK)
    ]
    reason: Reason


class AssignIn(msgspec.Struct, forbid_unknown_fields=True):
    """Who takes the warning."""

    user_id: uuid.UUID


class NoteIn(msgspec.Struct, forbid_unknown_fields=True):
    """A note."""

    text: Reason


class CloseIn(msgspec.Struct, forbid_unknown_fields=True):
    """What was found and done."""

    feedback: Reason


class WarningController(Controller):
    """Warnings in the regulator's district: acknowledge, assign, note, close with feedback."""

    path = "/warnings"
    tags = ["supervision"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @get("/")
    async def list_(
        self,
        db: Db,
        me: Me,
        status: FromQuery[Literal["open", "acknowledged", "closed"] | None] = None,
        rule: FromQuery[str | None] = None,
        merchant_id: FromQuery[uuid.UUID | None] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
    ) -> list[WarningOut]:
        """The queue: open and acknowledged first, newest first."""
        found = await warnings.queue(
            db, me, status=status, rule=rule, merchant_id=merchant_id, limit=limit, offset=offset
        )
        return [warning_out(w) for w in found]

    @get("/{warning_id:uuid}")
    async def one(self, warning_id: FromPath[uuid.UUID], db: Db, me: Me) -> WarningOut:
        """A warning with its evidence and notes."""
        found = await warnings.warning_of(db, me, warning_id)
        return warning_out(found, list(await warnings.notes_of(db, found.id)))

    @post("/{warning_id:uuid}/acknowledge", status_code=HTTP_200_OK)
    async def acknowledge(self, warning_id: FromPath[uuid.UUID], db: Db, me: Me) -> WarningOut:
        """Someone is on it."""
        async with db.begin():
            return warning_out(await warnings.acknowledge(db, me, warning_id))

    @post("/{warning_id:uuid}/assign", status_code=HTTP_200_OK)
    async def assign(
        self, warning_id: FromPath[uuid.UUID], data: JSONBody[AssignIn], db: Db, me: Me
    ) -> WarningOut:
        """Give it to a regulator of its district."""
        async with db.begin():
            return warning_out(await warnings.assign(db, me, warning_id, data.user_id))

    @post("/{warning_id:uuid}/notes", status_code=HTTP_201_CREATED)
    async def note(
        self, warning_id: FromPath[uuid.UUID], data: JSONBody[NoteIn], db: Db, me: Me
    ) -> NoteOut:
        """Add a note."""
        async with db.begin():
            n = await warnings.add_note(db, me, warning_id, data.text)
        return NoteOut(n.id, n.author, n.text, n.created_at)

    @post("/{warning_id:uuid}/close", status_code=HTTP_200_OK)
    async def close(
        self, warning_id: FromPath[uuid.UUID], data: JSONBody[CloseIn], db: Db, me: Me
    ) -> WarningOut:
        """Close with feedback."""
        async with db.begin():
            return warning_out(await warnings.close(db, me, warning_id, data.feedback))


def _in_force(actions: grade_actions.Actions) -> GradeActionsOut:
    return GradeActionsOut(
        district=actions.district,
        version=actions.version,
        actions={grade: action.to_dict() for grade, action in actions.actions.items()},
        reason=actions.reason,
    )


class GradeActionsController(Controller):
    """What each grade does to a merchant's new sales, set per district with a reason."""

    path = "/grade-actions"
    tags = ["supervision"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @get("/")
    async def show(self, db: Db, me: Me) -> GradeActionsView:
        """The actions in force for the caller's district and the versions behind them."""
        current = await grade_actions.in_force(db, me.district or grade_actions.CITY)
        return GradeActionsView(
            in_force=_in_force(current),
            history=[
                GradeActionsVersionOut(
                    district=v.district,
                    version=v.version,
                    actions=v.actions,
                    reason=v.reason,
                    created_by=v.created_by,
                    created_at=v.created_at,
                )
                for v in await grade_actions.history(db, me)
            ],
        )

    @post("/", guards=[requires(Role.REGULATOR)], status_code=HTTP_201_CREATED)
    async def change(self, data: JSONBody[GradeActionsIn], db: Db, me: Me) -> GradeActionsOut:
        """A new version for the caller's district (a city-level regulator: the city default).

        Ratios follow at each merchant's next grade change; cards already sold never change.
        """
        raw = {grade: msgspec.to_builtins(action) for grade, action in data.actions.items()}
        async with db.begin():
            return _in_force(await grade_actions.set_actions(db, me, raw, reason=data.reason))


class SalesBlocksController(Controller):
    """Lifting many merchants' sales blocks at once, after a partial statement for example."""

    path = "/measures/lift-sales-blocks"
    tags = ["supervision"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @post("/", status_code=HTTP_201_CREATED)
    async def lift(self, data: JSONBody[LiftBlocksIn], db: Db, me: Me) -> list[MeasureOut]:
        """Lift every block of every merchant named, one measure each; all or none."""
        async with db.begin():
            taken = await measures.lift_sales_blocks(db, me, data.merchant_ids, reason=data.reason)
        return [measure_out(m) for m in taken]


class MeasureController(Controller):
    """Measures against a merchant of the regulator's district."""

    path = "/merchants/{merchant_id:uuid}/measures"
    tags = ["supervision"]  # noqa: RUF012
    guards = [SUPERVISORS]  # noqa: RUF012

    @get("/")
    async def list_(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> list[MeasureOut]:
        """Every measure taken against the merchant, oldest first."""
        merchant = await measures.supervised_merchant(db, me, merchant_id)
        return [measure_out(m) for m in await measures.measures_of(db, merchant.id)]

    @post("/", status_code=HTTP_201_CREATED)
    async def take(
        self, merchant_id: FromPath[uuid.UUID], data: JSONBody[MeasureIn], db: Db, me: Me
    ) -> dict[str, Any]:
        """Take a measure. Declaring default pays custody shares and opens the claim."""
        order = measures.MeasureOrder(
            kind=data.kind,
            reason=data.reason,
            ratio_bp=data.custody_ratio_bp,
            confirmed=data.confirm,
        )
        async with db.begin():
            taken = await measures.take(db, me, merchant_id, order)
        return taken_out(taken)
