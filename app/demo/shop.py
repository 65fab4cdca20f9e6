"""One merchant of the demo district, loaded in a transaction of its own (step 2).

It onboards as a real merchant does (:mod:`app.demo.onboarding`), then its cards are ordered
and paid by signed sandbox notifications, used with their holders' one-time codes, and
complained about, answered and decided: each through the use case a person would call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.auth.models import Role
from app.auth.principal import Principal
from app.cards import service as cards
from app.clock import utcnow
from app.demo.accounts import DEMO_PASSWORD
from app.demo.onboarding import TERMS, Protection, onboard
from app.insurance.models import Claim, ClaimKind
from app.insurance.service import acknowledge
from app.insurance.service import pay as pay_claim
from app.merchants import service as merchants
from app.merchants.rules import ProductDraft
from app.payables import service as payables
from app.security.pii import PiiCipher
from app.supervision import disputes

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.clock import ManualClock
    from app.demo.accounts import Context
    from app.demo.district import District, Grievance

CUSTODY_BANK = "杭州银行"
COVERAGE_FEN = 500_000_000
"""Each policy's cover: ¥5,000,000."""
STORY_SHOP = 0
"""``demo-shop-01``: its trading happens in the past, then three refunds of the printed
consumer settle in each way a merchant's part can: by the insurer at the deadline, by the
merchant through the provider, and out of the merchant's next sale."""
STORY_DAYS = 14
STORY_CARDS = 4
"""The stories' cards: three refunded ones, and the sale that pays one of them."""


@dataclass(frozen=True)
class Work:
    """The district's sales, uses and complaints (their numbers), by shop."""

    sales: dict[int, list[int]]
    uses: dict[int, list[int]]
    grievances: dict[int, list[int]]

    @classmethod
    def of(cls, district: District) -> Work:
        """The district's work, dealt out by shop."""
        work = cls({}, {}, {})
        for number, sale in enumerate(district.sales):
            work.sales.setdefault(sale.shop, []).append(number)
        for number, use in enumerate(district.uses):
            work.uses.setdefault(district.sales[use.sale].shop, []).append(number)
        for number, grievance in enumerate(district.grievances):
            work.grievances.setdefault(district.sales[grievance.sale].shop, []).append(number)
        return work


class ShopLoader:
    """One merchant: onboarding, sales, use and complaints, in one transaction."""

    def __init__(
        self, session: AsyncSession, context: Context, district: District, shop: int
    ) -> None:
        self.session = session
        self.context = context
        self.district = district
        self.shop = district.shops[shop]
        self.number = shop
        self.cards: dict[int, uuid.UUID] = {}
        self.provider = context.provider
        self.cipher = PiiCipher.from_master_key()
        self.owner = Principal(role=Role.MERCHANT)
        self.counter = ("", "", "")
        self.merchant_id = uuid.UUID(int=0)
        self.products: list[uuid.UUID] = []

    async def run(self, work: Work) -> None:
        """Onboard, sell the shop's cards, then use some, then the complaints."""
        await self.onboard()
        for number in work.sales.get(self.number, []):
            await self.sell(number)
        for number in work.uses.get(self.number, []):
            await self.use(number)
        for number in work.grievances.get(self.number, []):
            await self.complain(self.district.grievances[number])

    async def onboard(self) -> None:
        """Registration, approval, custody account, policy, activation, products, counter QR."""
        shop = self.shop
        done = await onboard(
            self.session,
            self.cipher,
            merchants.Registration(
                uscc=shop.uscc,
                legal_name=shop.legal_name,
                industry=shop.industry,
                district=shop.district,
                address=shop.address,
                owner_username=shop.username,
                owner_password=DEMO_PASSWORD,
            ),
            regulator=self.context.supervisor(shop.district),
            protection=Protection(
                CUSTODY_BANK,
                shop.custody_account,
                shop.policy_number,
                COVERAGE_FEN,
                self.context.insurer,
            ),
            products=[
                ProductDraft(
                    name=spec.name,
                    kind=spec.kind,
                    price=spec.price,
                    units=spec.units,
                    validity_days=spec.validity_days,
                    anonymous=spec.anonymous,
                    terms=TERMS,
                )
                for spec in shop.products
            ],
        )
        self.owner, self.merchant_id = done.owner, done.merchant_id
        self.products, self.counter = done.products, done.counter

    async def _buy(self, person: int, product: int, key: str) -> uuid.UUID:
        """The person orders at the counter code; the signed notification issues the card."""
        merchant_id, kid, signature = self.counter
        made = await cards.create_order(
            self.session,
            self._person(person),
            cards.OrderRequest(
                merchant_id=merchant_id,
                kid=kid,
                signature=signature,
                product_id=self.products[product],
            ),
            key,
            self.provider,
            self.cipher,
        )
        order = made.order
        headers, body = self.provider.notification(order.provider_order_id, order.amount)
        event = self.provider.verify_notification(headers, body)
        outcome = await cards.apply_payment(self.session, event)
        if outcome != "issued" or order.card_id is None:  # pragma: no cover
            raise LookupError(f"order {order.id}: {outcome}")
        return order.card_id

    async def _refund(self, person: int, card_id: uuid.UUID, key: str) -> None:
        holder = await cards.holder_for(
            self.session, self._person(person), card_id=card_id, lock=True
        )
        outcome = await cards.request_refund(self.session, holder, "计划有变，冷静期内退卡", key)
        if outcome.status != "refunded":  # pragma: no cover - unused, in cooling-off
            raise LookupError(f"card {card_id} was not refunded at once")

    async def refund_stories(self, clock: ManualClock) -> None:
        """Three refunds of the printed consumer, each settled another way."""
        seed = self.district.seed
        # The insurer pays: the merchant lets the deadline pass.
        card = await self._buy(0, 0, f"demo-{seed}-story-insurer")
        await self._refund(0, card, f"demo-{seed}-story-insurer")
        clock.advance(timedelta(days=6))
        await payables.claim_merchant_overdue(self.session, self.merchant_id, utcnow())
        claim = await self.session.scalar(
            select(Claim).where(
                Claim.merchant_id == self.merchant_id, Claim.kind == ClaimKind.REFUND_PAYABLE
            )
        )
        if claim is None:  # pragma: no cover - the merchant has a policy
            raise LookupError("the deadline opened no claim")
        clock.advance(timedelta(hours=3))
        await acknowledge(self.session, self.context.insurer, claim.id)
        clock.advance(timedelta(days=1))
        await pay_claim(self.session, self.context.insurer, claim.id, payment_ref=f"PA-{seed}-0001")
        # The merchant pays its part itself, through the payment provider.
        clock.advance(timedelta(days=1))
        card = await self._buy(0, 0, f"demo-{seed}-story-merchant")
        await self._refund(0, card, f"demo-{seed}-story-merchant")
        clock.advance(timedelta(hours=2))
        started = await payables.start_payment(
            self.session, self.owner, self.provider, f"demo-{seed}-story-payment"
        )
        payment = started.payment
        headers, body = self.provider.notification(payment.provider_order_id, payment.amount)
        await payables.apply_payment(self.session, self.provider.verify_notification(headers, body))
        # The next sale pays it: withheld from the merchant's proceeds.
        clock.advance(timedelta(days=1))
        card = await self._buy(0, 0, f"demo-{seed}-story-netting")
        await self._refund(0, card, f"demo-{seed}-story-netting")
        clock.advance(timedelta(hours=1))
        await self._buy(1, 0, f"demo-{seed}-story-next-sale")

    def _person(self, person: int) -> Principal:
        return Principal(role=Role.CONSUMER, consumer_id=self.context.consumers[person])

    def _buyer(self, sale: int) -> Principal:
        return self._person(self.district.sales[sale].buyer)

    async def sell(self, number: int) -> None:
        """The consumer orders at the counter code; the signed notification issues the card."""
        sale = self.district.sales[number]
        self.cards[number] = await self._buy(
            sale.buyer, sale.product, f"demo-{self.district.seed}-order-{number:06d}"
        )

    async def use(self, number: int) -> None:
        """The holder shows a one-time code for ``units``; the merchant redeems with it."""
        use = self.district.uses[number]
        holder = await cards.holder_for(
            self.session, self._buyer(use.sale), card_id=self.cards[use.sale]
        )
        code = await cards.issue_redemption_code(self.session, holder, use.units)
        await cards.redeem(
            self.session,
            self.owner,
            token=code.token,
            digits=None,
            units=use.units,
            idempotency_key=f"demo-{self.district.seed}-use-{number:06d}",
        )

    async def complain(self, grievance: Grievance) -> None:
        """Filed by the holder; then, as far as it got, answered, decided and confirmed."""
        who = self._buyer(grievance.sale)
        holder = await cards.holder_for(
            self.session, who, card_id=self.cards[grievance.sale], lock=True
        )
        filed = await disputes.file_complaint(
            self.session,
            holder,
            disputes.Complaint(
                kind=disputes.DisputeKind(grievance.kind),
                text=grievance.text,
                amount_asked=grievance.amount_asked,
            ),
        )
        dispute_id = filed.view.dispute.id
        if grievance.progress == "filed":
            return
        await disputes.answer(self.session, self.owner, dispute_id, grievance.answer)
        if grievance.progress == "answered":
            return
        partial = grievance.decision == "partial"
        await disputes.decide(
            self.session,
            self.context.supervisor(self.shop.district),
            dispute_id,
            disputes.Ruling(
                disputes.Decision(grievance.decision),
                grievance.decision_text,
                amount_fen=grievance.decision_amount if partial else None,
            ),
        )
        if grievance.progress == "confirmed":
            await disputes.confirm(self.session, disputes.ConsumerSide.of(who), dispute_id)
