"""``/dashboard/disputes``: the disputes in reach, the earliest deadline first; deciding one."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import urlencode

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template

from app.clock import utcnow
from app.deps import Db, Me
from app.exceptions import Invalid
from app.merchants.service import legal_names
from app.pages.forms import parse_yuan
from app.pages.regulator.dashboard import SUPERVISORS
from app.pages.render import Form, lang_of, page, run_form, said_done
from app.supervision import disputes
from app.supervision.models import DisputeOwner, DisputeStatus

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

QUEUE_ROWS = 25
"""Disputes a page: a regulator works through a short list, not a 19,000-pixel one."""
OWNERS = (DisputeOwner.REGULATOR, DisputeOwner.MERCHANT, DisputeOwner.CONSUMER)
"""Whose move the queue can be filtered by; the regulator's own first (待我裁决)."""


async def dispute_queue(
    db: AsyncSession,
    me: Principal,
    *,
    status: str | None,
    overdue: bool,
    owner: str | None = None,
    page_no: int = 1,
) -> dict[str, Any]:
    """One page of the disputes in reach, the most urgent first, each marked overdue or not."""
    wanted = DisputeStatus(status) if status in {s.value for s in DisputeStatus} else None
    whose = DisputeOwner(owner) if owner in {o.value for o in OWNERS} else None
    page_no = max(page_no, 1)
    views = await disputes.queue(
        db,
        me,
        disputes.QueueFilter(
            status=wanted,
            overdue=overdue,
            owner=whose,
            limit=QUEUE_ROWS + 1,  # one more says whether a next page exists
            offset=(page_no - 1) * QUEUE_ROWS,
        ),
    )
    more, views = len(views) > QUEUE_ROWS, views[:QUEUE_ROWS]
    now = utcnow()
    filters = {"status": wanted.value if wanted else "", "owner": whose.value if whose else ""}
    filters |= {"overdue": "true"} if overdue else {}
    return {
        "page_no": page_no,
        "prev_page": _page_link(filters, page_no - 1) if page_no > 1 else None,
        "next_page": _page_link(filters, page_no + 1) if more else None,
        "owners": [o.value for o in OWNERS],
        "owner": filters["owner"],
        "views": views,
        "late": {
            v.dispute.id
            for v in views
            if v.dispute.deadline_at is not None
            and v.dispute.deadline_at < now
            and v.dispute.status != DisputeStatus.CONFIRMED
        },
        "merchants": await legal_names(db, [v.dispute.merchant_id for v in views]),
        "statuses": [s.value for s in DisputeStatus],
        "status": filters["status"],
        "overdue": overdue,
        "regulator": DisputeOwner.REGULATOR.value,
        "errors": {},
        "values": {},
    }


def _page_link(filters: dict[str, str], page_no: int) -> str:
    """The queue's address for another page, with the same filters."""
    kept = {key: value for key, value in filters.items() if value}
    return "/dashboard/disputes?" + urlencode(kept | {"page": str(page_no)})


def ruling(data: dict[str, str]) -> disputes.Ruling:
    """The decision form as the use case takes it (an amount in yuan becomes fen)."""
    try:
        decision = disputes.Decision(data.get("decision", ""))
    except ValueError:
        code = "regulator-decision-unchosen"
        raise Invalid(code, fields={"decision": code}) from None
    typed = data.get("amount", "").strip()
    amount = parse_yuan(typed) if typed else None
    if typed and amount is None:
        code = "regulator-amount-unreadable"
        raise Invalid(code, fields={"amount": code})
    return disputes.Ruling(decision=decision, text=data.get("text", ""), amount_fen=amount)


async def _decide(
    db: AsyncSession, me: Principal, dispute_id: uuid.UUID, data: dict[str, str]
) -> None:
    asked = ruling(data)
    async with db.begin():
        await disputes.decide(db, me, dispute_id, asked)


class DisputePages(Controller):
    """The regulator's dispute queue and its decisions."""

    path = "/dashboard/disputes"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def disputes_queue(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        status: FromQuery[str | None] = None,
        overdue: FromQuery[bool] = False,  # noqa: FBT002 - a query flag
        owner: FromQuery[str | None] = None,
        page_no: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Open disputes a page at a time, earliest deadline first; decide here.

        Filtered by status, by overdue, and by whose move it is (the regulator's: 待我裁决).
        """
        context = await dispute_queue(
            db, me, status=status, overdue=overdue, owner=owner, page_no=page_no
        )
        flash = said_done(lang_of(request), "r_done_", done, ("decide",))
        return page(request, "regulator/disputes.html", flash=flash, **context)

    @post("/{dispute_id:uuid}/decide")
    async def decide(
        self,
        request: Request[Any, Any, Any],
        dispute_id: FromPath[uuid.UUID],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Decide a dispute: the money moves in the same transaction."""
        return await run_form(
            request,
            _decide(db, me, dispute_id, data),
            done=f"/dashboard/disputes?done=decide#d-{dispute_id}",
            again=lambda: dispute_queue(db, me, status=None, overdue=False),
            name="regulator/disputes.html",
            row=dispute_id,
            data=data,
            rename={"amount_fen": "amount"},
        )
