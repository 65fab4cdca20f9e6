"""``/dashboard/protection``: what protects consumers' money, and the forms that change it.

Refund payables by age, blocked sales lifted together, and the district's grade actions with
a form for a new version.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromQuery
from litestar.response import Redirect, Template

from app.auth.models import Role
from app.deps import Db, Me
from app.exceptions import Invalid
from app.merchants import blocks
from app.pages.forms import parse_percent
from app.pages.regulator.dashboard import SUPERVISORS
from app.pages.render import Form, lang_of, page, run_form, said_done
from app.payables import service as payables
from app.supervision import directory, grade_actions, measures
from scoring import GRADES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

OWING_SHOWN = 20
"""Merchants listed by what they owe, the most first."""


async def protection_file(db: AsyncSession, me: Principal) -> dict[str, Any]:
    """What the protection page shows: payables by age, blocked merchants, grade actions."""
    pending = await payables.supervised_payables(db, me)
    merchants = await directory.merchants_in_reach(db, me)
    held = await blocks.active(db, list(merchants))
    owing: dict[uuid.UUID, int] = {}
    for p in pending.pending:
        owing[p.merchant_id] = owing.get(p.merchant_id, 0) + p.pending
    return {
        "by_age": pending.by_age,
        "owing": [
            (merchants[m].legal_name if m in merchants else str(m), fen)
            for m, fen in sorted(owing.items(), key=lambda item: -item[1])
        ][:OWING_SHOWN],
        "blocked": [(merchants[m], held[m]) for m in merchants if m in held],
        "actions": await grade_actions.in_force(db, me.district or grade_actions.CITY),
        "can_set": me.role is Role.REGULATOR,
        "errors": {},
        "values": {},
    }


def ticked(data: Mapping[str, str]) -> list[uuid.UUID]:
    """The merchants ticked in the list of blocked ones (``merchant-<id>`` boxes)."""
    try:
        return [uuid.UUID(k.removeprefix("merchant-")) for k in data if k.startswith("merchant-")]
    except ValueError:
        code = "regulator-merchants-unticked"
        raise Invalid(code, fields={"merchant": code}) from None


def grade_table(data: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """The grade actions form: each grade's ratio (per cent, as basis points) and sales."""
    table: dict[str, dict[str, Any]] = {}
    for grade in GRADES:
        bp = parse_percent(data.get(f"ratio-{grade}", ""))
        if bp is None:
            code = "regulator-percent-unreadable"
            raise Invalid(code, fields={"custody_ratio_pct": code})
        table[grade] = {"custody_ratio_bp": bp, "sales": data.get(f"sales-{grade}", "")}
    return table


class ProtectionPages(Controller):
    """What protects consumers' money in the caller's reach, and the two forms that change it."""

    path = "/dashboard/protection"
    include_in_schema = False
    guards = [SUPERVISORS]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def protection(
        self, request: Request[Any, Any, Any], db: Db, me: Me, done: FromQuery[str | None] = None
    ) -> Template:
        """Refund payables by age, blocked sales (lifted together), the district's grade actions."""
        context = await protection_file(db, me)
        flash = said_done(lang_of(request), "r_done_", done, ("lift", "actions"))
        return page(request, "regulator/protection.html", flash=flash, **context)

    @post("/lift")
    async def lift_blocks(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """Lift the blocks of every merchant ticked, one measure each, all or none."""

        async def lift() -> None:
            ids = ticked(data)
            async with db.begin():
                await measures.lift_sales_blocks(db, me, ids, reason=data.get("reason", ""))

        return await run_form(
            request,
            lift(),
            done="/dashboard/protection?done=lift#blocks",
            again=lambda: protection_file(db, me),
            name="regulator/protection.html",
            row="lift",
            data=data,
        )

    @post("/grade-actions")
    async def set_grade_actions(
        self, request: Request[Any, Any, Any], data: Form, db: Db, me: Me
    ) -> Template | Redirect:
        """A new version of the district's grade actions, with its reason."""

        async def change() -> None:
            table = grade_table(data)
            async with db.begin():
                await grade_actions.set_actions(db, me, table, reason=data.get("reason", ""))

        return await run_form(
            request,
            change(),
            done="/dashboard/protection?done=actions#grade-actions",
            again=lambda: protection_file(db, me),
            name="regulator/protection.html",
            row="actions",
            data=data,
        )
