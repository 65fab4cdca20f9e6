"""The benchmarks' shop: a merchant and its product, and cards sold on the ledger.

Set-up shared by the benchmarks that need a merchant with many cards (``card_transfer.py``,
``resolution_pack.py``); it writes through the ledger so the books verify, and inserts the
orders and holders in bulk (what the payment path writes, without the requests).
"""

from __future__ import annotations

import secrets
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import insert

import escrow
from app.auth.models import Consumer
from app.cards.models import CardHolder, Order, OrderStatus
from app.clock import utcnow
from app.merchants.models import Merchant, MerchantStatus, Product, ProductStatus
from app.security.pii import PiiCipher

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

PRICE, SESSIONS = 300_000, 10
"""Each card: 10 sessions for ¥3,000."""


def uscc() -> str:
    return "91330102" + secrets.token_hex(5).upper()


async def merchant(session: AsyncSession, name: str) -> tuple[Merchant, Product]:
    merchant = Merchant(
        id=uuid.uuid4(),
        uscc=uscc(),
        legal_name=name,
        industry="fitness",
        district="上城区",
        address="杭州市上城区解放路1号",
        status=MerchantStatus.ACTIVE,
        custody_ratio_bp=3000,
    )
    session.add(merchant)
    await session.flush()
    product = Product(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        name="私教 10 次",
        kind="sessions",
        price=PRICE,
        units=SESSIONS,
        validity_days=None,
        anonymous=False,
        terms="",
        status=ProductStatus.ACTIVE,
    )
    session.add(product)
    await session.flush()
    await escrow.EscrowLedger(session).open_book(merchant.id)
    return merchant, product


async def sell(
    sessions: async_sessionmaker[AsyncSession],
    merchant: Merchant,
    product: Product,
    cards: int,
    holders: int,
) -> None:
    """Sell ``cards`` cards through the ledger, each with a paid order and a named holder.

    Holders have a phone number, a real name and an ID number, encrypted as the app does.
    """
    cipher = PiiCipher.from_master_key()
    async with sessions() as session, session.begin():
        consumers = [uuid.uuid4() for _ in range(holders)]
        await session.execute(
            insert(Consumer),
            [
                {
                    "id": c,
                    "phone_hash": cipher.lookup_hash(f"139{n:08d}", field="phone"),
                    "phone_enc": cipher.encrypt(f"139{n:08d}", field="phone"),
                    "real_name_enc": cipher.encrypt(f"持卡人{n}", field="real_name"),
                    "id_number_enc": cipher.encrypt(f"33010219900101{n:04d}", field="id_number"),
                }
                for n, c in enumerate(consumers)
            ],
        )
    sold = 0
    while sold < cards:
        async with sessions() as session, session.begin():
            ledger = escrow.EscrowLedger(session)
            rows, holders_rows = [], []
            for n in range(sold, min(sold + 500, cards)):
                card_id, order_id = uuid.uuid4(), uuid.uuid4()
                await ledger.purchase(
                    merchant.id,
                    kind=escrow.CardKind.SESSIONS,
                    paid=PRICE,
                    units_total=SESSIONS,
                    custody_ratio_bp=3000,
                    card_id=card_id,
                    idempotency_key=f"order:{order_id}",
                )
                if n % 3 == 0:
                    await ledger.redeem(
                        merchant.id, card_id, units=1 + n % 7, idempotency_key=f"use:{card_id}"
                    )
                consumer = consumers[n % holders]
                rows.append(
                    {
                        "id": order_id,
                        "merchant_id": merchant.id,
                        "product_id": product.id,
                        "consumer_id": consumer,
                        "amount": PRICE,
                        "custody_ratio_bp": 3000,
                        "status": OrderStatus.PAID,
                        "provider": "sandbox",
                        "provider_order_id": f"bench-{order_id}",
                        "idempotency_scope": "bench",
                        "idempotency_key": str(order_id),
                        "request_hash": b"-",
                        "card_id": card_id,
                        "paid_at": utcnow(),
                    }
                )
                holders_rows.append(
                    {
                        "card_id": card_id,
                        "merchant_id": merchant.id,
                        "product_id": product.id,
                        "order_id": order_id,
                        "consumer_id": consumer,
                        "registered": True,
                    }
                )
            await session.execute(insert(Order), rows)
            await session.execute(insert(CardHolder), holders_rows)
            sold += len(rows)
