"""What a scanned counter code leads to: the genuine merchant, and whether it may sell now.

Both front doors answer ``/q/…`` from these rules: the API with the merchant's profile
(JSON), and, for a phone's browser, the consumer pages' merchant page, which ``create_app``
hands to the API's route (the two front doors never import each other).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import qr
from app.exceptions import MerchantNotSelling, NotFound
from app.merchants import blocks
from app.merchants.models import Merchant, MerchantStatus
from app.qrcodes.service import keyring

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


NOT_SELLING = {
    MerchantStatus.SUSPENDED: "merchant-sales-suspended",
    MerchantStatus.DEFAULTED: "merchant-defaulted",
    MerchantStatus.CLOSED: "merchant-closed",
}
"""Why a merchant that is not active may not sell, by status: an error code."""
NOT_APPROVED = "merchant-not-approved"


async def counter_merchant(
    session: AsyncSession, merchant_id: str, kid: str, signature: str
) -> Merchant:
    """The merchant behind a genuine counter code; a forged, altered or revoked one is refused.

    Raises the ``qr`` package's errors (a code that must not be trusted) or NotFound.
    """
    code = qr.CounterCode.from_parts(merchant_id, kid, signature)
    qr.verify_counter(code, await keyring(session))
    merchant = await session.get(Merchant, code.merchant_id)
    if merchant is None:
        raise NotFound("merchant-not-registered")
    return merchant


async def selling_problem(session: AsyncSession, merchant: Merchant) -> str | None:
    """The error code saying why this merchant may not sell a card now, or None."""
    if merchant.status == MerchantStatus.ACTIVE:
        return blocks.blocked_code(await blocks.of(session, merchant.id))
    return NOT_SELLING.get(MerchantStatus(merchant.status), NOT_APPROVED)


async def seller(session: AsyncSession, merchant_id: str, kid: str, signature: str) -> Merchant:
    """The merchant behind a genuine code, if it may take prepaid money now.

    Raises as :func:`counter_merchant`, and MerchantNotSelling (saying why) for a genuine
    code of a merchant that may not sell: a stale sticker never leads to a payment.
    """
    merchant = await counter_merchant(session, merchant_id, kid, signature)
    if why := await selling_problem(session, merchant):
        raise refusal(why, merchant)
    return merchant


def refusal(why: str, merchant: Merchant) -> MerchantNotSelling:  # noqa: PLR0911 - a literal each
    """The error for a merchant that may not sell, by :func:`selling_problem`'s code.

    Each code is named here as a literal, so the catalogue check finds its words; the block
    codes are ``app.merchants.blocks``'s (its words), a new one falls back to the generic.
    """
    name, status = merchant.legal_name, merchant.status
    match why:
        case "merchant-sales-suspended":
            return MerchantNotSelling(
                "merchant-sales-suspended", legal_name=name, licence_status=status
            )
        case "merchant-defaulted":
            return MerchantNotSelling("merchant-defaulted", legal_name=name, licence_status=status)
        case "merchant-closed":
            return MerchantNotSelling("merchant-closed", legal_name=name, licence_status=status)
        case "merchant-closing":
            return MerchantNotSelling("merchant-closing", legal_name=name, licence_status=status)
        case "merchant-not-approved":
            return MerchantNotSelling(
                "merchant-not-approved", legal_name=name, licence_status=status
            )
        case "sales-blocked-custody-shortfall":
            return MerchantNotSelling(
                "sales-blocked-custody-shortfall", legal_name=name, licence_status=status
            )
        case "sales-blocked-policy-ended":
            return MerchantNotSelling(
                "sales-blocked-policy-ended", legal_name=name, licence_status=status
            )
        case "sales-held-grade-review":
            return MerchantNotSelling(
                "sales-held-grade-review", legal_name=name, licence_status=status
            )
        case "sales-stopped-hard-stop":
            return MerchantNotSelling(
                "sales-stopped-hard-stop", legal_name=name, licence_status=status
            )
        case _:
            return MerchantNotSelling(
                "merchant-not-selling", legal_name=name, licence_status=status
            )
