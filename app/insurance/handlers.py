"""What insurance reacts to: a merchant starting to sell, payables gone past their deadline.

Both run in the transaction of the change and may refuse it by raising: a merchant may not
sell without a policy an insurer registered, and overdue payables are claimed from an insurer
or not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from app.events import handles
from app.exceptions import Invalid
from app.insurance.models import Policy, PolicyStatus
from app.insurance.service import open_payable_claim
from app.merchants.events import MerchantActivated
from app.merchants.models import Merchant
from app.payables.events import OverduePayablesClaimed

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession


class NoPolicyOnRecord(LookupError):
    """Overdue payables with no policy to claim them from: they stay with the merchant."""


@handles(MerchantActivated)
async def require_registered_policy(session: AsyncSession, event: MerchantActivated) -> None:
    """The policy the merchant declared must be active and registered by its insurer.

    The insured 70% of every card rests on it.
    """
    registered = await session.scalar(
        select(Policy.id).where(
            Policy.merchant_id == event.merchant_id,
            Policy.number == event.policy_ref,
            Policy.status == PolicyStatus.ACTIVE,
        )
    )
    if registered is None:
        raise Invalid(
            "policy-not-registered",
            fields={"policy_ref": "policy-not-registered-yet"},
            policy_ref=event.policy_ref,
        )


@handles(OverduePayablesClaimed)
async def claim_from_insurer(session: AsyncSession, event: OverduePayablesClaimed) -> None:
    """Open the claim on the merchant's policy and tell the insurer (outbox)."""
    merchant = await session.get(Merchant, event.merchant_id)
    claim = None if merchant is None else await open_payable_claim(session, merchant, event.receipt)
    if claim is None:  # no insurer would hear of it: the payables stay with the merchant
        msg = (
            f"payables of merchant {event.merchant_id} are past their deadline, but it has no"
            " insurance policy on record to claim them from"
        )
        raise NoPolicyOnRecord(msg)
