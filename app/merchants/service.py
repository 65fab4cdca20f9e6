"""Merchant onboarding, status changes and card products. Each function only flushes."""

from __future__ import annotations

import asyncio
import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.auth.models import USERNAME, Role, User
from app.auth.ratelimit import limit_registration
from app.clock import utcnow
from app.events import publish
from app.exceptions import Conflict, Forbidden, Invalid, NotFound
from app.ledger import escrow_ledger
from app.merchants.events import MerchantActivated, MerchantRegistered
from app.merchants.models import Industry, Merchant, MerchantStatus, Product, ProductStatus
from app.merchants.rules import ProductDraft, product_problems
from app.merchants.uscc import normalise_uscc, uscc_fault
from app.security.passwords import MIN_LENGTH, hash_password
from app.settings import get_settings

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.auth.principal import Principal
    from app.security.pii import PiiCipher

ACCOUNT_DIGITS = (8, 32)
"""A custody account number is 8 to 32 digits."""
ACCOUNT_NUMBER = re.compile(rf"^\d{{{ACCOUNT_DIGITS[0]},{ACCOUNT_DIGITS[1]}}}$")
ACCOUNT_PARAMS = {"account_min": ACCOUNT_DIGITS[0], "account_max": ACCOUNT_DIGITS[1]}
"""The parameters of the words for a wrong account number."""
CUSTODY_FIELD = "custody_account"


@dataclass(frozen=True)
class Registration:
    """What a merchant gives to onboard."""

    uscc: str
    legal_name: str
    industry: str
    district: str
    address: str
    owner_username: str
    owner_password: str
    custody_bank: str | None = None
    custody_account: str | None = None
    policy_ref: str | None = None


async def _registration_problems(
    session: AsyncSession, reg: Registration
) -> tuple[dict[str, str], dict[str, object]]:
    """Every wrong field (field -> error code) and the parameters their words need."""
    fields: dict[str, str] = {}
    params: dict[str, object] = {}
    if fault := uscc_fault(normalise_uscc(reg.uscc)):
        fields["uscc"] = fault.code
        params.update(fault.params)
    if not USERNAME.match(reg.owner_username.strip().lower()):
        fields["owner_username"] = "owner-username-format"
    if len(reg.owner_password) < MIN_LENGTH:
        fields["owner_password"] = "owner-password-too-short"  # noqa: S105 - a code
        params["password_min"] = MIN_LENGTH
    if reg.custody_account and not ACCOUNT_NUMBER.match(reg.custody_account):
        fields[CUSTODY_FIELD] = "custody-account-format"
        params.update(ACCOUNT_PARAMS)
    for name in ("legal_name", "district", "address"):
        if not getattr(reg, name).strip():
            fields[name] = "merchant-field-required"
    if await session.get(Industry, reg.industry) is None:
        fields["industry"] = "industry-unknown"
        params["industries"] = ", ".join((await session.scalars(select(Industry.code))).all())
    return fields, params


async def register(session: AsyncSession, reg: Registration, cipher: PiiCipher) -> Merchant:
    """A pending merchant and its owner's account; refused whole if any field is wrong."""
    fields, params = await _registration_problems(session, reg)
    if fields:
        raise Invalid("registration-invalid", fields=fields, **params)
    uscc = normalise_uscc(reg.uscc)
    username = reg.owner_username.strip().lower()
    if await session.scalar(select(Merchant.id).where(Merchant.uscc == uscc)):
        raise Conflict("uscc-already-registered")
    if await session.scalar(select(User.id).where(User.username == username)):
        raise Conflict("user-name-taken", fields={"owner_username": "user-name-in-use"})
    merchant = Merchant(
        id=uuid.uuid4(),
        uscc=uscc,
        legal_name=reg.legal_name.strip(),
        industry=reg.industry,
        district=reg.district.strip(),
        address=reg.address.strip(),
        custody_bank=reg.custody_bank,
        custody_account_enc=(
            cipher.encrypt(reg.custody_account, field=CUSTODY_FIELD)
            if reg.custody_account
            else None
        ),
        policy_ref=reg.policy_ref,
        status=MerchantStatus.PENDING,
        custody_ratio_bp=get_settings().cards.default_custody_ratio_bp,
    )
    session.add(merchant)
    await session.flush()
    session.add(
        User(
            username=username,
            password_hash=await asyncio.to_thread(hash_password, reg.owner_password),
            role=Role.MERCHANT,
            merchant_id=merchant.id,
        )
    )
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent registration won the race
        raise Conflict("merchant-registered-concurrently") from exc
    # Rated from the start (app.risk.handlers): with no records yet, every source is missing.
    await publish(session, MerchantRegistered(merchant.id))
    return merchant


async def apply(
    session: AsyncSession, reg: Registration, cipher: PiiCipher, *, client: str | None
) -> Merchant:
    """A registration from the front doors, counted against ``client``'s address first.

    The count commits in a transaction of its own, so refused registrations count too; the
    registration is made in another.
    """
    await limit_registration(session, client)
    async with session.begin():
        return await register(session, reg, cipher)


async def visible_merchant(
    session: AsyncSession, me: Principal, merchant_id: uuid.UUID
) -> Merchant:
    """The merchant if the caller may see it; otherwise 'not found', telling nothing."""
    merchant = await session.get(Merchant, merchant_id)
    if merchant is None:
        raise NotFound("merchant-not-found")
    allowed = (me.role is Role.MERCHANT and me.merchant_id == merchant.id) or me.sees_district(
        merchant.district
    )
    if not allowed:
        raise NotFound("merchant-not-found")
    return merchant


async def own_merchant(session: AsyncSession, me: Principal, *, lock: bool = False) -> Merchant:
    """The merchant a merchant-staff caller works for."""
    if me.merchant_id is None:
        raise Forbidden("merchant-staff-only")
    merchant = await session.get(Merchant, me.merchant_id, with_for_update=lock)
    if merchant is None:
        raise NotFound("merchant-not-found")
    return merchant


async def _supervised(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Merchant:
    """A merchant in the calling regulator's reach, locked for a status change."""
    merchant = await session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None or not me.sees_district(merchant.district):
        raise NotFound("merchant-not-in-district")
    return merchant


def _transition(merchant: Merchant, allowed_from: set[MerchantStatus], to: MerchantStatus) -> None:
    if merchant.status not in allowed_from:
        raise Conflict("merchant-status-change", merchant_status=merchant.status, to=to.value)
    merchant.status = to


async def approve(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Merchant:
    """A regulator (of its district) or operator approves a pending merchant."""
    merchant = await _supervised(session, me, merchant_id)
    _transition(merchant, {MerchantStatus.PENDING}, MerchantStatus.APPROVED)
    merchant.approved_at = utcnow()
    merchant.approved_by = me.user_id
    await session.flush()
    return merchant


async def suspend(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Merchant:
    """Stop new sales and kill the counter QR's payment path; cards already sold still work."""
    merchant = await _supervised(session, me, merchant_id)
    _transition(merchant, {MerchantStatus.ACTIVE}, MerchantStatus.SUSPENDED)
    await session.flush()
    return merchant


async def reinstate(session: AsyncSession, me: Principal, merchant_id: uuid.UUID) -> Merchant:
    """Lift a suspension."""
    merchant = await _supervised(session, me, merchant_id)
    _transition(merchant, {MerchantStatus.SUSPENDED}, MerchantStatus.ACTIVE)
    await session.flush()
    return merchant


async def update_protection(
    session: AsyncSession,
    me: Principal,
    cipher: PiiCipher,
    *,
    custody_bank: str | None,
    custody_account: str | None,
    policy_ref: str | None,
) -> Merchant:
    """Set the custody bank account and insurance policy a merchant needs before selling.

    Until approval they may change freely; after it, only a missing one may be filled in.
    Changing where the money is held is for the regulator to review, not the merchant alone.
    """
    merchant = await own_merchant(session, me, lock=True)
    if merchant.status != MerchantStatus.PENDING:
        changed = [
            name
            for name, given, held in (
                ("custody_account", custody_account, merchant.custody_account_enc),
                ("custody_bank", custody_bank, merchant.custody_bank),
                ("policy_ref", policy_ref, merchant.policy_ref),
            )
            if given is not None and held is not None
        ]
        if changed:
            raise Conflict(
                "protection-locked", fields=dict.fromkeys(changed, "protection-already-set")
            )
    if custody_account is not None:
        if not ACCOUNT_NUMBER.match(custody_account):
            raise Invalid(
                "custody-account-invalid",
                fields={CUSTODY_FIELD: "custody-account-format"},
                **ACCOUNT_PARAMS,
            )
        merchant.custody_account_enc = cipher.encrypt(custody_account, field=CUSTODY_FIELD)
    if custody_bank is not None:
        merchant.custody_bank = custody_bank
    if policy_ref is not None:
        merchant.policy_ref = policy_ref
    await session.flush()
    return merchant


async def activate(session: AsyncSession, me: Principal) -> Merchant:
    """An approved merchant with custody account and policy opens its escrow book and sells.

    The policy must be one an insurer registered (``app.insurance``) under the number the
    merchant declared: the insured share of every card rests on it.
    """
    merchant = await own_merchant(session, me, lock=True)
    missing = {
        name: "needed-before-selling"
        for name, value in (
            (CUSTODY_FIELD, merchant.custody_account_enc),
            ("policy_ref", merchant.policy_ref),
        )
        if not value
    }
    if missing:
        raise Invalid("protection-missing", fields=missing)
    _transition(merchant, {MerchantStatus.APPROVED}, MerchantStatus.ACTIVE)
    # The insurer must have registered the declared policy (app.insurance.handlers refuses).
    await publish(session, MerchantActivated(merchant.id, merchant.policy_ref or ""))
    await escrow_ledger(session).open_book(merchant.id)
    await session.flush()
    return merchant


async def list_merchants(
    session: AsyncSession, me: Principal, *, status: str | None, industry: str | None
) -> Sequence[Merchant]:
    """Merchants in the caller's reach (a regulator's district; everyone for the city)."""
    query = select(Merchant).order_by(Merchant.created_at)
    if me.role is Role.REGULATOR and me.district is not None:
        query = query.where(Merchant.district == me.district)
    if status:
        query = query.where(Merchant.status == status)
    if industry:
        query = query.where(Merchant.industry == industry)
    return (await session.scalars(query)).all()


async def check_product(session: AsyncSession, me: Principal, draft: ProductDraft) -> Merchant:
    """The caller's merchant if it may define ``draft``; refused with every reason otherwise.

    Writes nothing: a form that could not read some fields shows what else is wrong too.
    """
    merchant = await own_merchant(session, me)
    if merchant.status not in {MerchantStatus.APPROVED, MerchantStatus.ACTIVE}:
        raise Conflict("merchant-cannot-define-products", merchant_status=merchant.status)
    problems = product_problems(draft, get_settings().cards)
    if problems.fields:
        raise Invalid("product-refused", fields=problems.fields, **problems.params)
    return merchant


async def create_product(session: AsyncSession, me: Principal, draft: ProductDraft) -> Product:
    """A new card product, refused with every reason when it breaks a rule."""
    merchant = await check_product(session, me, draft)
    product = Product(
        id=uuid.uuid4(),
        merchant_id=merchant.id,
        name=draft.name.strip(),
        kind=draft.kind,
        price=draft.price,
        units=draft.units,
        validity_days=draft.validity_days,
        anonymous=draft.anonymous,
        terms=draft.terms,
        status=ProductStatus.ACTIVE,
    )
    session.add(product)
    await session.flush()
    return product


async def products_of(
    session: AsyncSession, merchant_id: uuid.UUID, *, active_only: bool
) -> Sequence[Product]:
    """A merchant's products, newest first."""
    query = select(Product).where(Product.merchant_id == merchant_id)
    if active_only:
        query = query.where(Product.status == ProductStatus.ACTIVE)
    return (await session.scalars(query.order_by(Product.created_at.desc()))).all()


async def retire_product(session: AsyncSession, me: Principal, product_id: uuid.UUID) -> Product:
    """Stop selling a product; cards already sold are unaffected."""
    product = await session.get(Product, product_id, with_for_update=True)
    if product is None or product.merchant_id != me.merchant_id:
        raise NotFound("product-not-found")
    product.status = ProductStatus.RETIRED
    await session.flush()
    return product


async def industries(session: AsyncSession) -> Sequence[Industry]:
    """The configured industries with their cooling-off days."""
    return (await session.scalars(select(Industry).order_by(Industry.code))).all()


async def legal_names(
    session: AsyncSession, merchant_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, str]:
    """Merchants' legal names, to say whom a row is about."""
    ids = set(merchant_ids)
    if not ids:
        return {}
    rows = await session.execute(
        select(Merchant.id, Merchant.legal_name).where(Merchant.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows.all()}
