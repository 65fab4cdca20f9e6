"""The district's departments and street offices."""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.cases.models import Organisation, OrgKind
from app.exceptions import Conflict, Invalid, NotFound
from app.merchants.models import Merchant

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

_CODE = re.compile(r"[a-z][a-z0-9-]{1,31}")


async def add(
    session: AsyncSession, *, district: str, kind: str, code: str, zh: str, en: str
) -> Organisation:
    """A new department or street office; its code is unique within the district."""
    if kind not in {k.value for k in OrgKind}:
        raise Invalid("organisation-kind", kind=kind)
    if not _CODE.fullmatch(code):
        raise Invalid("organisation-code", code=code)
    if not (district.strip() and zh.strip() and en.strip()):
        raise Invalid("organisation-names")
    taken = await session.scalar(
        select(Organisation.id).where(Organisation.district == district, Organisation.code == code)
    )
    if taken is not None:
        raise Conflict("organisation-code-taken", code=code, district=district)
    org = Organisation(
        id=uuid.uuid4(),
        kind=kind,
        code=code,
        name_zh=zh.strip(),
        name_en=en.strip(),
        district=district.strip(),
    )
    session.add(org)
    await session.flush()
    return org


async def organisations(
    session: AsyncSession, district: str, kind: OrgKind | None = None
) -> list[Organisation]:
    """A district's organisations (of one kind), departments first, by code."""
    query = select(Organisation).where(Organisation.district == district)
    if kind is not None:
        query = query.where(Organisation.kind == kind)
    return list((await session.scalars(query.order_by(Organisation.kind, Organisation.code))).all())


def name_of(org: Organisation, lang: str) -> str:
    """The organisation's name in the reader's language."""
    return org.name_en if lang == "en" else org.name_zh


async def organisation_by_code(session: AsyncSession, district: str, code: str) -> Organisation:
    """The district's organisation with this code."""
    org = await session.scalar(
        select(Organisation).where(Organisation.district == district, Organisation.code == code)
    )
    if org is None:
        raise NotFound("organisation-not-found", code=code, district=district)
    return org


async def assign_street(session: AsyncSession, merchant_id: uuid.UUID, code: str) -> Merchant:
    """Put the merchant on a street office of its own district (its warnings go there)."""
    merchant = await session.get(Merchant, merchant_id, with_for_update=True)
    if merchant is None:
        raise NotFound("merchant-not-found")
    street = await organisation_by_code(session, merchant.district, code)
    if street.kind != OrgKind.STREET:
        raise Invalid("organisation-not-a-street", code=code)
    merchant.street_id = street.id
    await session.flush()
    return merchant
