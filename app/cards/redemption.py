"""Using a card with its holder's consent: a one-time code the merchant redeems, once.

The holder's card page issues a signed code (a QR token and six digits) for at most the
units the holder agrees to; the merchant redeems up to that with it, before it expires.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select

import escrow
import qr
from app.auth.ratelimit import hit
from app.cards.models import CardHolder, RedemptionCode
from app.cards.rows import required
from app.clock import utcnow
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.models import Merchant, MerchantStatus, Product
from app.qrcodes.service import keyring
from app.settings import get_settings

if TYPE_CHECKING:
    import uuid

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal

REDEMPTION_CODE_TTL = timedelta(minutes=2)
TYPED_CODE_WINDOW_SECONDS = 60
"""Typed digits are counted per merchant per minute (``security.typed_code_limit``)."""


@dataclass(frozen=True)
class IssuedCode:
    """What the card page shows for the merchant to scan or type."""

    token: str
    digits: str
    expires_at: datetime
    max_units: int
    id: uuid.UUID
    """The code's own id: the holder's page asks by it whether the merchant has used it."""


class CodeState(enum.StrEnum):
    """Where a code shown on the holder's screen stands."""

    WAITING = "waiting"
    """Live: the merchant has yet to scan or type it."""
    USED = "used"
    EXPIRED = "expired"


@dataclass(frozen=True)
class CodeStatus:
    """A code as its holder's screen follows it: waiting, then used (for how much) or expired."""

    code: IssuedCode
    state: CodeState
    used_units: int | None
    """What the merchant redeemed with it (``None`` unless used)."""
    units_left: int
    """The card's balance now, in its units."""


async def _check_consent(session: AsyncSession, holder: CardHolder, max_units: int) -> None:
    """The holder may consent to at most what the card has left."""
    balance = await escrow_ledger(session).card(holder.merchant_id, holder.card_id)
    if balance.status != escrow.CardStatus.OPEN or balance.units_remaining == 0:
        raise Conflict("card-nothing-left")
    if max_units <= balance.units_remaining:
        return
    left = balance.units_remaining
    product = await required(session, Product, holder.product_id)
    if product.kind == escrow.CardKind.STORED_VALUE:
        raise Invalid(
            "consent-above-value-left", fields={"max_units": "consent-at-most-value"}, left_fen=left
        )
    raise Invalid(
        "consent-above-sessions-left", fields={"max_units": "consent-at-most-sessions"}, left=left
    )


async def issue_redemption_code(
    session: AsyncSession, holder: CardHolder, max_units: int
) -> IssuedCode:
    """A signed one-time code for this card at its merchant, valid two minutes.

    The holder says how much the merchant may take with it (fen of face value, or sessions);
    the merchant can redeem up to that, once.
    """
    await _check_consent(session, holder, max_units)
    now = utcnow()
    expires = now + REDEMPTION_CODE_TTL
    live = set(
        (
            await session.scalars(
                select(RedemptionCode.digits).where(
                    RedemptionCode.merchant_id == holder.merchant_id,
                    RedemptionCode.used_at.is_(None),
                    RedemptionCode.expires_at > now,
                )
            )
        ).all()
    )
    digits = qr.six_digit_code()
    while digits in live:  # one in a million per live code: retry until unique
        digits = qr.six_digit_code()
    nonce = qr.redemption_nonce()
    token = qr.issue_redemption_token(
        holder.card_id, holder.merchant_id, nonce, expires, await keyring(session, signing=True)
    )
    row = RedemptionCode(
        card_id=holder.card_id,
        merchant_id=holder.merchant_id,
        digits=digits,
        nonce=nonce,
        max_units=max_units,
        expires_at=expires,
    )
    session.add(row)
    await session.flush()
    return IssuedCode(
        token=token, digits=digits, expires_at=expires, max_units=max_units, id=row.id
    )


RECENT = timedelta(minutes=15)
"""How long a redemption is news on the holder's card list."""


@dataclass(frozen=True)
class Redeemed:
    """A card used with its holder's code, lately."""

    card_id: uuid.UUID
    units: int
    at: datetime


async def recent_redemptions(session: AsyncSession, consumer_id: uuid.UUID) -> list[Redeemed]:
    """The holder's cards used in the last :data:`RECENT`, newest first: the list says so."""
    rows = await session.execute(
        select(RedemptionCode.card_id, RedemptionCode.used_units, RedemptionCode.used_at)
        .join(CardHolder, CardHolder.card_id == RedemptionCode.card_id)
        .where(
            CardHolder.consumer_id == consumer_id,
            RedemptionCode.used_units.is_not(None),
            RedemptionCode.used_at >= utcnow() - RECENT,
        )
        .order_by(RedemptionCode.used_at.desc())
    )
    return [
        Redeemed(card, units, at)
        for card, units, at in rows.all()
        if units is not None and at is not None
    ]


async def code_status(
    session: AsyncSession, holder: CardHolder, code_id: uuid.UUID, *, to_show: bool = False
) -> CodeStatus:
    """A code of this card as its holder's screen shows it; another card's code is not found.

    With ``to_show`` a live code comes with its token signed anew (the same nonce and expiry,
    so the same consent), to draw it again; the page that only follows the code (every two
    seconds) signs nothing. A used one says what was redeemed and what is left.
    """
    code = await session.scalar(
        select(RedemptionCode).where(
            RedemptionCode.id == code_id, RedemptionCode.card_id == holder.card_id
        )
    )
    if code is None:
        raise NotFound("redemption-code-not-found")
    balance = await escrow_ledger(session).card(holder.merchant_id, holder.card_id)
    if code.used_at is not None:
        state = CodeState.USED
    elif code.expires_at <= utcnow():
        state = CodeState.EXPIRED
    else:
        state = CodeState.WAITING
    token = ""
    if to_show and state is CodeState.WAITING:
        token = qr.issue_redemption_token(
            holder.card_id,
            holder.merchant_id,
            code.nonce,
            code.expires_at,
            await keyring(session, signing=True),
        )
    shown = IssuedCode(token, code.digits, code.expires_at, code.max_units, code.id)
    return CodeStatus(shown, state, code.used_units, balance.units_remaining)


_AT_THE_COUNTER: dict[type[qr.RefusedCode], str] = {
    qr.MalformedCode: "redemption-code-malformed",
    qr.ExpiredCode: "code-expired",
}
"""A redemption token refused by ``qr``, as the merchant redeeming it reads the refusal."""


async def _code_for(
    session: AsyncSession, merchant_id: uuid.UUID, token: str | None, digits: str | None
) -> RedemptionCode:
    now = utcnow()
    if token:
        try:
            claim = qr.read_redemption_token(token, await keyring(session), now)
        except qr.RefusedCode as exc:
            # the same refusal, in the words of the merchant at the counter: not the warning
            # a consumer reads about a counter code ("do not pay through it")
            exc.code = _AT_THE_COUNTER.get(type(exc), "redemption-code-refused")
            raise
        if claim.merchant_id != merchant_id:
            raise Forbidden("code-for-another-merchant")
        code = await session.scalar(
            select(RedemptionCode).where(RedemptionCode.nonce == claim.nonce).with_for_update()
        )
    elif digits:
        code = await session.scalar(
            select(RedemptionCode)
            .where(
                RedemptionCode.merchant_id == merchant_id,
                RedemptionCode.digits == digits,
                RedemptionCode.expires_at > now,
            )
            .order_by(RedemptionCode.created_at.desc())
            .limit(1)
            .with_for_update()
        )
    else:
        raise Invalid("code-required", fields={"code": "card-field-required"})
    if code is None or code.merchant_id != merchant_id:
        raise NotFound("live-code-not-found")
    return code


async def redeem(
    session: AsyncSession,
    me: Principal,
    *,
    token: str | None,
    digits: str | None,
    units: int,
    idempotency_key: str,
) -> escrow.RedemptionReceipt:
    """Use a card with its holder's consent code: once, at its merchant, before it expires."""
    if me.merchant_id is None:
        raise Forbidden("only-merchant-staff-redeem")
    merchant = await session.get(Merchant, me.merchant_id)
    if merchant is None or merchant.status not in {
        MerchantStatus.ACTIVE,
        MerchantStatus.SUSPENDED,  # a suspension stops sales, not the service already paid
    }:
        raise Conflict("merchant-may-not-redeem")
    ledger = escrow_ledger(session)
    key = f"redeem:{idempotency_key}"
    earlier = await ledger.recorded_redemption(me.merchant_id, key)
    if earlier is not None:  # a retry: answer it even if its code has expired since
        if earlier.units != units:
            raise Conflict("redemption-key-reused")
        return earlier
    code = await _code_for(session, me.merchant_id, token, digits)
    if code.used_at is not None:
        raise Conflict("code-already-used")
    if code.expires_at <= utcnow():
        raise Conflict("code-expired")
    if units > code.max_units:
        raise Conflict("units-above-consent", agreed=code.max_units, asked=units)
    receipt = await ledger.redeem(me.merchant_id, code.card_id, units=units, idempotency_key=key)
    code.used_at = utcnow()
    code.used_key = key
    code.used_units = units
    await session.flush()
    return receipt


async def redeem_counting_digits(
    db: AsyncSession,
    me: Principal,
    *,
    token: str | None,
    digits: str | None,
    units: int,
    idempotency_key: str,
) -> escrow.RedemptionReceipt:
    """Redeem with the holder's code (the API's and the console's one way to do it).

    Typed digits first count against the merchant's per-minute budget, in a transaction of
    their own (kept even if the redemption fails), so guessing the six digits of someone
    else's live code is hopeless; the redemption runs in the next transaction.
    """
    if digits:
        async with db.begin():
            await hit(
                db,
                f"redeem-digits:{me.merchant_id}",
                limit=get_settings().security.typed_code_limit,
                window_seconds=TYPED_CODE_WINDOW_SECONDS,
            )
    async with db.begin():
        return await redeem(
            db, me, token=token, digits=digits, units=units, idempotency_key=idempotency_key
        )
