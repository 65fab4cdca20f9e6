"""Merchant onboarding, supervision of merchants, and card products."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK

from app.auth.models import Role
from app.auth.principal import public, requires
from app.deps import Cipher, Db, Me, client_address
from app.merchants import service
from app.merchants.rules import MAX_NAME, MAX_TERMS, MAX_VALIDITY_DAYS, ProductDraft

if TYPE_CHECKING:
    from app.merchants.models import Merchant, Product

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Fen = Annotated[int, msgspec.Meta(gt=0, le=10**12)]


class RegistrationIn(msgspec.Struct, forbid_unknown_fields=True):
    """A merchant applies to join; a regulator then approves it."""

    uscc: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    legal_name: Text
    industry: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
    district: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    address: Text
    owner_username: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    owner_password: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    custody_bank: Text | None = None
    custody_account: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    policy_ref: Text | None = None


class ProtectionIn(msgspec.Struct, forbid_unknown_fields=True):
    """The custody bank account and insurance policy behind every card."""

    custody_bank: Text | None = None
    custody_account: Annotated[str, msgspec.Meta(max_length=40)] | None = None
    policy_ref: Text | None = None


class MerchantOut(msgspec.Struct):
    """A merchant as its staff, regulators and operators see it."""

    id: uuid.UUID
    uscc: str
    legal_name: str
    industry: str
    district: str
    address: str
    status: str
    custody_ratio_bp: int
    has_custody_account: bool
    custody_bank: str | None
    policy_ref: str | None
    created_at: datetime
    approved_at: datetime | None


class ProductIn(msgspec.Struct, forbid_unknown_fields=True):
    """A card product; stored value counts face value in fen, sessions count uses."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME)]
    kind: Literal["stored_value", "sessions"]
    price: Fen
    units: Annotated[int, msgspec.Meta(gt=0, le=10**12)]
    anonymous: bool = False
    validity_days: Annotated[int, msgspec.Meta(gt=0, le=MAX_VALIDITY_DAYS)] | None = None
    terms: Annotated[str, msgspec.Meta(max_length=MAX_TERMS)] = ""
    no_refund: bool = False
    forfeit_on_expiry: bool = False


class ProductOut(msgspec.Struct):
    """A card product."""

    id: uuid.UUID
    merchant_id: uuid.UUID
    name: str
    kind: str
    price: int
    units: int
    anonymous: bool
    validity_days: int | None
    terms: str
    status: str


class IndustryOut(msgspec.Struct):
    """An industry and its cooling-off days."""

    code: str
    name_zh: str
    name_en: str
    cooling_off_days: int


def merchant_out(m: Merchant) -> MerchantOut:
    """The API view of a merchant (no account number: it is encrypted and stays so)."""
    return MerchantOut(
        id=m.id,
        uscc=m.uscc,
        legal_name=m.legal_name,
        industry=m.industry,
        district=m.district,
        address=m.address,
        status=m.status,
        custody_ratio_bp=m.custody_ratio_bp,
        has_custody_account=m.custody_account_enc is not None,
        custody_bank=m.custody_bank,
        policy_ref=m.policy_ref,
        created_at=m.created_at,
        approved_at=m.approved_at,
    )


def product_out(p: Product) -> ProductOut:
    """The API view of a product."""
    return ProductOut(
        id=p.id,
        merchant_id=p.merchant_id,
        name=p.name,
        kind=p.kind,
        price=p.price,
        units=p.units,
        anonymous=p.anonymous,
        validity_days=p.validity_days,
        terms=p.terms,
        status=p.status,
    )


SUPERVISORS = requires(Role.REGULATOR, Role.OPERATOR)
MERCHANT = requires(Role.MERCHANT)


class MerchantController(Controller):
    """Onboarding and the merchant's own record."""

    path = "/merchants"
    tags = ["merchants"]  # noqa: RUF012

    @get("/industries", guards=[public])
    async def industries(self, db: Db) -> list[IndustryOut]:
        """Industries a merchant may register under, with their cooling-off days."""
        return [
            IndustryOut(i.code, i.name_zh, i.name_en, i.cooling_off_days)
            for i in await service.industries(db)
        ]

    @post("/", guards=[public])
    async def register(
        self,
        data: JSONBody[RegistrationIn],
        db: Db,
        cipher: Cipher,
        request: Request[Any, Any, Any],
    ) -> MerchantOut:
        """Apply to join. The merchant starts pending until a regulator approves it."""
        merchant = await service.apply(
            db,
            service.Registration(**msgspec.structs.asdict(data)),
            cipher,
            client=client_address(request),
        )
        return merchant_out(merchant)

    @get("/me", guards=[MERCHANT])
    async def mine(self, db: Db, me: Me) -> MerchantOut:
        """The merchant the caller works for."""
        return merchant_out(await service.own_merchant(db, me))

    @patch("/me/protection", guards=[MERCHANT])
    async def protection(
        self, data: JSONBody[ProtectionIn], db: Db, me: Me, cipher: Cipher
    ) -> MerchantOut:
        """Set the custody account and insurance policy."""
        async with db.begin():
            merchant = await service.update_protection(
                db, me, cipher, **msgspec.structs.asdict(data)
            )
        return merchant_out(merchant)

    @post("/me/activate", guards=[MERCHANT], status_code=HTTP_200_OK)
    async def activate(self, db: Db, me: Me) -> MerchantOut:
        """Start selling: needs approval, a custody account and a policy."""
        async with db.begin():
            merchant = await service.activate(db, me)
        return merchant_out(merchant)

    @get("/{merchant_id:uuid}", guards=[requires(Role.MERCHANT, Role.REGULATOR, Role.OPERATOR)])
    async def one(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> MerchantOut:
        """One merchant, if the caller may see it."""
        return merchant_out(await service.visible_merchant(db, me, merchant_id))

    @get("/", guards=[SUPERVISORS])
    async def supervised(
        self,
        db: Db,
        me: Me,
        status: FromQuery[str | None] = None,
        industry: FromQuery[str | None] = None,
    ) -> list[MerchantOut]:
        """Merchants in the regulator's district (a city-level regulator sees all)."""
        found = await service.list_merchants(db, me, status=status, industry=industry)
        return [merchant_out(m) for m in found]

    @post("/{merchant_id:uuid}/approve", guards=[SUPERVISORS], status_code=HTTP_200_OK)
    async def approve(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> MerchantOut:
        """Approve a pending merchant."""
        async with db.begin():
            return merchant_out(await service.approve(db, me, merchant_id))

    @post("/{merchant_id:uuid}/suspend", guards=[SUPERVISORS], status_code=HTTP_200_OK)
    async def suspend(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> MerchantOut:
        """Suspend new sales; the counter QR then refuses to lead to a payment."""
        async with db.begin():
            return merchant_out(await service.suspend(db, me, merchant_id))

    @post("/{merchant_id:uuid}/reinstate", guards=[SUPERVISORS], status_code=HTTP_200_OK)
    async def reinstate(self, merchant_id: FromPath[uuid.UUID], db: Db, me: Me) -> MerchantOut:
        """Lift a suspension."""
        async with db.begin():
            return merchant_out(await service.reinstate(db, me, merchant_id))


class ProductController(Controller):
    """A merchant's card products."""

    path = "/merchants/me/products"
    tags = ["merchants"]  # noqa: RUF012
    guards = [MERCHANT]  # noqa: RUF012

    @post("/")
    async def create(self, data: JSONBody[ProductIn], db: Db, me: Me) -> ProductOut:
        """Define a product; refused with every reason when it breaks a rule."""
        async with db.begin():
            product = await service.create_product(
                db, me, ProductDraft(**msgspec.structs.asdict(data))
            )
        return product_out(product)

    @get("/")
    async def list_(self, db: Db, me: Me) -> list[ProductOut]:
        """All the merchant's products, retired ones included."""
        merchant = await service.own_merchant(db, me)
        return [
            product_out(p) for p in await service.products_of(db, merchant.id, active_only=False)
        ]

    @post("/{product_id:uuid}/retire", status_code=HTTP_200_OK)
    async def retire(self, product_id: FromPath[uuid.UUID], db: Db, me: Me) -> ProductOut:
        """Stop selling a product."""
        async with db.begin():
            return product_out(await service.retire_product(db, me, product_id))
