"""Importing the custody bank's daily statement: match it to the ledger, act on shortfalls.

The statement covers the days its lines are dated and the merchants it speaks to (a line on
their custody account, or quoting one of their references): their custody movements of those
days are expected on it. Merchants it says nothing about are named in the report, not judged:
a partial statement blocks nobody else. A merchant whose custody holds less than the ledger
says (missing or short deposits) gets a warning and its new sales are blocked until a
regulator lifts the block; the whole import is one transaction and a file is imported
once (its digest). A statement without lines names no day, so it is refused.
"""

from __future__ import annotations

import hashlib
import uuid
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

import escrow
from app.clock import utcnow
from app.custody.events import ShortfallFound
from app.custody.models import CustodyStatement
from app.events import publish
from app.exceptions import Invalid
from app.merchants import blocks
from app.merchants.models import Merchant, SalesBlockKind
from app.merchants.service import CUSTODY_FIELD

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from app.security.pii import PiiCipher


async def import_statement(
    session: AsyncSession,
    cipher: PiiCipher,
    data: bytes,
    *,
    filename: str,
    imported_by: uuid.UUID | None,
) -> tuple[dict[str, Any], bool]:
    """Reconcile a statement in the caller's transaction; return its report and if it is new."""
    digest = hashlib.sha256(data).digest()
    earlier = await session.scalar(
        select(CustodyStatement).where(CustodyStatement.digest == digest)
    )
    if earlier is not None:
        return earlier.report, False
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("statement-not-utf8", byte=exc.start) from None
    lines = escrow.parse_statement(text)
    if not lines:
        raise escrow.BadStatement(
            1,
            "the statement has no lines, so it cannot say which day it covers;"
            " nothing was imported: import a statement that lists the day's movements",
            code="statement-without-lines",
        )
    start = min(line.day for line in lines)
    end = max(line.day for line in lines)
    merchants = (
        await session.scalars(select(Merchant).where(Merchant.custody_account_enc.is_not(None)))
    ).all()
    account_of: dict[str, uuid.UUID] = {}
    for merchant in merchants:
        if merchant.custody_account_enc is not None:
            account = cipher.decrypt(merchant.custody_account_enc, field=CUSTODY_FIELD)
            account_of[account] = merchant.id
    expected = await escrow.custody_movements(session, [m.id for m in merchants], start, end)
    result = escrow.reconcile(expected, lines, account_of)
    statement_id = uuid.uuid4()
    report: dict[str, Any] = {
        "statement_id": str(statement_id),
        "filename": filename,
        "from": start.isoformat(),
        "to": end.isoformat(),
        **result.to_dict(),
    }
    session.add(
        CustodyStatement(
            id=statement_id,
            digest=digest,
            filename=filename,
            imported_at=utcnow(),
            imported_by=imported_by,
            matched=len(result.matched),
            missing=len(result.missing),
            unexpected=len(result.unexpected),
            report=report,
        )
    )
    await session.flush()
    for merchant_id, shortfall in sorted(result.shortfall.items()):
        await blocks.place(
            session,
            merchant_id,
            SalesBlockKind.CUSTODY_SHORTFALL,
            {
                "statement_id": str(statement_id),
                "shortfall_fen": shortfall,
                "from": start.isoformat(),
                "to": end.isoformat(),
            },
        )
        await publish(
            session,
            ShortfallFound(
                merchant_id,
                statement_id=str(statement_id),
                shortfall_fen=shortfall,
                evidence={"filename": filename, "from": start.isoformat(), "to": end.isoformat()},
            ),
        )
    await session.flush()
    return report, True
