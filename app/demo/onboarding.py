"""One merchant's whole onboarding, as the demo district and the simulation make it.

Registration, a regulator's approval, the custody account, the policy the merchant names and
its insurer registers, activation, products, and the counter code as a phone reads it: each
through the service a person would use, in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

import qr
from app.auth.models import User
from app.auth.service import principal_of_user
from app.clock import today
from app.insurance.service import create_policy
from app.merchants import service as merchants
from app.qrcodes.service import keyring
from app.settings import get_settings

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.merchants.rules import ProductDraft
    from app.security.pii import PiiCipher


TERMS = "未使用部分按实付金额比例退还；冷静期内未使用的可全额退款。"
"""The card terms of every demo and simulated product: the refund rule, no forfeit clause."""


@dataclass(frozen=True)
class Onboarded:
    """An active merchant: its owner's sign-in, products and counter code (id, k, s)."""

    merchant_id: uuid.UUID
    owner: Principal
    products: list[uuid.UUID]
    counter: tuple[str, str, str]


@dataclass(frozen=True)
class Protection:
    """Where the merchant's custody share is held and who insures the rest."""

    custody_bank: str
    custody_account: str
    policy_number: str
    coverage_fen: int
    insurer: Principal


async def onboard(
    session: AsyncSession,
    cipher: PiiCipher,
    registration: merchants.Registration,
    *,
    regulator: Principal,
    protection: Protection,
    products: Sequence[ProductDraft],
) -> Onboarded:
    """Register, approve, protect, insure, activate and stock a merchant; read its counter."""
    merchant = await merchants.register(session, registration, cipher)
    user = await session.scalar(select(User).where(User.username == registration.owner_username))
    if user is None:  # pragma: no cover - registered just above
        raise LookupError(registration.owner_username)
    owner = principal_of_user(user)
    await merchants.approve(session, regulator, merchant.id)
    await merchants.update_protection(
        session,
        owner,
        cipher,
        custody_bank=protection.custody_bank,
        custody_account=protection.custody_account,
        policy_ref=protection.policy_number,  # named by the merchant, registered by the insurer
    )
    await create_policy(
        session,
        protection.insurer,
        uscc=registration.uscc,
        number=protection.policy_number,
        coverage_fen=protection.coverage_fen,
        starts_on=today(),
    )
    await merchants.activate(session, owner)
    made = [(await merchants.create_product(session, owner, draft)).id for draft in products]
    url = qr.counter_url(
        get_settings().cards.public_base_url, merchant.id, await keyring(session, signing=True)
    )
    query = parse_qs(urlsplit(url).query)  # what the consumer's phone reads at the counter
    return Onboarded(merchant.id, owner, made, (str(merchant.id), query["k"][0], query["s"][0]))
