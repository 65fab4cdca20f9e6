"""The insurer's pages: policies with exposure and premium, claims card by card, deliveries.

An insurer sees its own book only (the insurance and outbox services scope every read to the
caller's insurer). Acknowledging and paying a claim are forms that run the insurance service's
use case in one transaction; a refused form comes back with the message beside the field.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect, Template

from app.auth.models import Role
from app.auth.principal import requires
from app.deps import Db, Me
from app.exceptions import NotFound
from app.insurance import service
from app.insurance.models import ClaimStatus
from app.merchants.service import legal_names
from app.outbox import service as outbox
from app.pages.i18n import add
from app.pages.render import Form, lang_of, page, run_form, said_done, same_origin
from app.risk.supervision import colour

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

INSURER = requires(Role.INSURER)
EVENTS_SHOWN = 200
ATTEMPTS_SHOWN = 200
CLAIM_STEPS = ("acknowledge", "pay")


async def book(db: AsyncSession, me: Principal) -> dict[str, Any]:
    """The insurer's policies (with exposure and premium) and claims (with their lines)."""
    views = await service.policies(db, me)
    claims = await service.claims(db, me)
    names = await legal_names(db, [c.merchant_id for c in claims])
    numbers = {v.policy.id: v.policy.number for v in views}
    return {
        "policies": views,
        "total_exposure": sum(v.exposure for v in views),
        "total_premium": sum(v.annual_premium for v in views),
        "claims": claims,
        "open_claims": sum(1 for c in claims if c.status != ClaimStatus.CLOSED),
        "lines": {c.id: list(await service.claim_lines(db, c.id)) for c in claims},
        "merchants": names,
        "numbers": numbers,
        "colour": colour,
        "errors": {},
        "values": {},
    }


async def _claim_step(
    db: AsyncSession, me: Principal, claim_id: uuid.UUID, step: str, data: dict[str, str]
) -> None:
    async with db.begin():
        if step == "acknowledge":
            await service.acknowledge(db, me, claim_id)
        else:
            await service.pay(db, me, claim_id, payment_ref=data.get("payment_ref", ""))


class InsurerPages(Controller):
    """``/insurer-view``: what an insurer's staff see and do."""

    path = "/insurer-view"
    include_in_schema = False
    guards = [INSURER]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)

    @get("/")
    async def overview(
        self,
        request: Request[Any, Any, Any],
        db: Db,
        me: Me,
        done: FromQuery[str | None] = None,
    ) -> Template:
        """Policies, exposure per merchant and in total, premiums, claims."""
        flash = said_done(lang_of(request), "i_done_", done, CLAIM_STEPS)
        return page(request, "insurer/overview.html", flash=flash, **await book(db, me))

    @post("/claims/{claim_id:uuid}/{step:str}")
    async def claim_step(
        self,
        request: Request[Any, Any, Any],
        claim_id: FromPath[uuid.UUID],
        step: FromPath[str],
        data: Form,
        db: Db,
        me: Me,
    ) -> Template | Redirect:
        """Acknowledge a claim, or record its payment (each card's insured share is paid)."""
        same_origin(request)
        if step not in CLAIM_STEPS:
            raise NotFound("no such step")
        return await run_form(
            request,
            _claim_step(db, me, claim_id, step, data),
            done=f"/insurer-view?done={step}#c-{claim_id}",
            again=lambda: book(db, me),
            name="insurer/overview.html",
            row=claim_id,
            data=data,
        )

    @get("/deliveries")
    async def deliveries(self, request: Request[Any, Any, Any], db: Db, me: Me) -> Template:
        """Every event written for the insurer and every push attempt, newest first."""
        insurer_id = service.insurer_of(me)
        events = await outbox.events_after(db, insurer_id, 0, EVENTS_SHOWN)
        attempts = await outbox.deliveries(db, insurer_id, ATTEMPTS_SHOWN)
        return page(
            request,
            "insurer/deliveries.html",
            events=list(reversed(events)),
            attempts=attempts,
        )


add(
    {
        "i_nav_policies": ("保单与理赔", "Policies & claims"),
        "i_nav_deliveries": ("推送记录", "Delivery log"),
        "i_title": ("保险公司视图", "Insurer view"),
        "i_total_exposure": ("总风险敞口", "Total exposure"),
        "i_total_premium": ("年保费合计", "Annual premiums"),
        "i_policies_count": ("保单数", "Policies"),
        "i_open_claims": ("未结理赔", "Open claims"),
        "i_policies": ("保单", "Policies"),
        "i_number": ("保单号", "Policy number"),
        "i_merchant": ("商户", "Merchant"),
        "i_grade": ("风险等级", "Grade"),
        "i_status": ("状态", "Status"),
        "i_pstatus_active": ("有效", "active"),
        "i_pstatus_ended": ("已终止", "ended"),
        "i_coverage": ("保额上限", "Cover limit"),
        "i_exposure": ("风险敞口", "Exposure"),
        "i_exposure_help": (
            "风险敞口＝该商户所有未用完卡的保险份额，即今天违约时需赔付的金额",
            (
                "Exposure: the insured shares of the merchant's open cards, what a default"
                " today would cost"
            ),
        ),
        "i_premium": ("年保费", "Annual premium"),
        "i_schedule": ("费率表", "Schedule"),
        "i_starts": ("起保日", "Starts"),
        "i_total_row": ("合计", "Total"),
        "i_no_policies": ("暂无保单", "No policies"),
        "i_claims": ("理赔", "Claims"),
        "i_no_claims": ("暂无理赔", "No claims"),
        "i_cstatus_triggered": ("待受理", "triggered"),
        "i_cstatus_acknowledged": ("已受理", "acknowledged"),
        "i_cstatus_paid": ("已支付", "paid"),
        "i_cstatus_closed": ("已结案", "closed"),
        "i_triggered_at": ("触发时间", "Triggered"),
        "i_acknowledged_at": ("受理时间", "Acknowledged"),
        "i_total": ("理赔总额", "Claim total"),
        "i_cards": ("涉及卡数", "Cards"),
        "i_breakdown": ("逐卡明细", "Per-card breakdown"),
        "i_card": ("卡号", "Card"),
        "i_outstanding": ("应退余额", "Outstanding"),
        "i_custody_paid": ("存管已付", "Paid from custody"),
        "i_claim_amount": ("保险应付", "Insured share"),
        "i_paid_at": ("支付时间", "Paid"),
        "i_payment_ref": ("付款流水号", "Payment reference"),
        "i_acknowledge": ("受理理赔", "Acknowledge"),
        "i_pay": ("登记已付款", "Record the payment"),
        "i_ask_pay": (
            "确认已向持卡人支付 {total}？提交后逐卡入账并结案。",
            "Confirm {total} was paid? Each card is credited and the claim closes.",
        ),
        "i_done_acknowledge": ("已受理理赔", "Claim acknowledged"),
        "i_done_pay": ("已登记付款，理赔结案", "Payment recorded; the claim is closed"),
        "i_deliveries_title": ("推送记录", "Delivery log"),
        "i_events": ("事件", "Events"),
        "i_event": ("事件编号", "Event id"),
        "i_type": ("类型", "Type"),
        "i_seq": ("序号", "Seq"),
        "i_created": ("生成时间", "Written"),
        "i_attempts": ("尝试次数", "Attempts"),
        "i_delivered_at": ("送达时间", "Delivered"),
        "i_estatus_pending": ("待送达", "pending"),
        "i_estatus_delivered": ("已送达", "delivered"),
        "i_last_error": ("最近错误", "Last error"),
        "i_attempts_log": ("推送尝试", "Delivery attempts"),
        "i_attempted_at": ("尝试时间", "Attempted"),
        "i_response": ("响应", "Response"),
        "i_duration": ("耗时", "Duration"),
        "i_ms": ("{ms} 毫秒", "{ms} ms"),
        "i_no_response": ("无响应", "no answer"),
        "i_no_events": ("暂无事件", "No events"),
        "i_no_attempts": (
            "尚无推送尝试；未设置推送地址时，请通过接口 /insurer/events 拉取事件",
            "No push attempts yet; without a webhook URL, pull events from /insurer/events",
        ),
    }
)
