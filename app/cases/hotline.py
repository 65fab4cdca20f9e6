"""12345 hotline work orders: read a CSV or JSON file, check every row, import each ticket once.

A work order names its ticket, when it was received, the caller's phone, the merchant (its
unified social credit code, or only a name), what the caller said and a category, and may name
the district it was dispatched to. Each row is checked on its own:

* a *malformed* row (no ticket id, a bad time or phone, a credit code whose check character
  fails, neither code nor name, no text) is reported with its line and skipped;
* a ticket already imported, or repeated in the same file, is a *duplicate* and changes
  nothing: importing a file twice imports nothing the second time;
* a ticket whose code names a merchant on the platform is *matched*: its case opens in the
  merchant's district and it counts as a complaint against the merchant (``app.risk.complaints``);
* a ticket with only a name, or a code no merchant has, is *unmatched*: kept for a regulator of
  its district (or the city) to match (never matched by name: names are not unique).

The caller's phone is kept encrypted, with its look-up hash, so the caller signing in with
that phone sees the outcome and confirms it. One file is one transaction.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.auth.models import Role
from app.auth.principal import Principal
from app.auth.service import normalise_phone
from app.cases.models import HotlineTicket
from app.cases.service import open_hotline_case
from app.clock import SHANGHAI, utcnow
from app.exceptions import AppError, Invalid
from app.merchants.models import Merchant
from app.merchants.uscc import normalise_uscc, uscc_problem
from app.supervision.rules import on_complaint

if TYPE_CHECKING:
    import uuid
    from collections.abc import Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

    from app.security.pii import PiiCipher

FIELDS = (
    "ticket_id",
    "received_at",
    "caller_phone",
    "merchant_code",
    "merchant_name",
    "text",
    "category",
    "district",
)
REQUIRED = ("ticket_id", "received_at", "caller_phone", "text", "category")
MAX_BYTES = 10 * 1024 * 1024
MAX_DISTRICT = 64
_TICKET = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class WorkOrder:
    """One row as read: its line (the header is line 1 in a CSV; the n-th object is line n)."""

    line: int
    values: dict[str, str]


@dataclass
class Problem:
    """A row not imported, and why (in English, for the operator's report)."""

    line: int
    ticket_id: str
    reason: str
    kind: str
    """``malformed`` or ``duplicate``."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "line": self.line,
            "ticket_id": self.ticket_id,
            "reason": self.reason,
            "kind": self.kind,
        }


@dataclass
class HotlineReport:
    """What an import did, row by row where a row was not imported."""

    rows: int = 0
    imported: int = 0
    matched: int = 0
    unmatched: int = 0
    duplicates: int = 0
    malformed: int = 0
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "rows": self.rows,
            "imported": self.imported,
            "matched": self.matched,
            "unmatched": self.unmatched,
            "duplicates": self.duplicates,
            "malformed": self.malformed,
            "problems": [p.to_dict() for p in self.problems],
        }


def read_file(data: bytes) -> list[WorkOrder]:
    """The work orders of a CSV (header row) or JSON (a list, or ``{"work_orders": [...]}``).

    ``Invalid`` for a file that is neither: nothing is imported from it.
    """
    if len(data) > MAX_BYTES:
        raise Invalid("hotline-file-too-large", max_mb=MAX_BYTES // 1024 // 1024)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Invalid("hotline-file-not-utf8") from None
    if text.lstrip().startswith(("[", "{")):
        return _read_json(text)
    reader = csv.DictReader(io.StringIO(text))
    try:
        missing = [f for f in REQUIRED if f not in (reader.fieldnames or [])]
        if missing:
            raise Invalid("hotline-file-columns", missing=", ".join(missing))
        return [
            WorkOrder(reader.line_num, {k: (v or "").strip() for k, v in row.items() if k})
            for row in reader
            if any((v or "").strip() for v in row.values() if isinstance(v, str))
        ]
    except csv.Error as exc:
        raise Invalid("hotline-file-unreadable", line=reader.line_num, reason=str(exc)) from None


def _read_json(text: str) -> list[WorkOrder]:
    try:
        body = json.loads(text)
    except ValueError:
        raise Invalid("hotline-file-not-json") from None
    items = body.get("work_orders") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise Invalid("hotline-file-not-json")
    return [
        WorkOrder(n, {k: "" if v is None else str(v).strip() for k, v in item.items()})
        if isinstance(item, dict)
        else WorkOrder(n, {})
        for n, item in enumerate(items, start=1)
    ]


def _texts(values: set[str]) -> Any:  # noqa: ANN401 - a bound text[] for = ANY(...)
    """One ``text[]`` parameter, however many values (a large file has tens of thousands)."""
    return bindparam("values", value=sorted(values), type_=ARRAY(String))


def _moment(value: str) -> datetime:
    """An ISO time; without an offset it is Shanghai's (the hotline's clock)."""
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=SHANGHAI) if moment.tzinfo is None else moment


def _check(order: WorkOrder) -> str | None:
    """Why the row cannot be imported, or ``None``."""
    v = order.values
    missing = [f for f in REQUIRED if not v.get(f)]
    if missing:
        return f"missing {', '.join(missing)}"
    return _ticket_problem(v) or _party_problem(v)


def _ticket_problem(v: dict[str, str]) -> str | None:
    if not _TICKET.fullmatch(v["ticket_id"]):
        return "ticket_id is not 1-64 letters, digits, dots, dashes or underscores"
    try:
        received = _moment(v["received_at"])
    except ValueError:
        return f"received_at {v['received_at']!r} is not an ISO date and time"
    return "received_at is in the future" if received > utcnow() else None


def _party_problem(v: dict[str, str]) -> str | None:
    try:
        normalise_phone(v["caller_phone"])
    except AppError:
        return "caller_phone is not a mainland mobile number"
    code = normalise_uscc(v.get("merchant_code", ""))
    if code and (problem := uscc_problem(code)):
        return f"merchant_code: {problem}"
    if len(v.get("district", "")) > MAX_DISTRICT:
        return f"district is longer than {MAX_DISTRICT} characters"
    return None if code or v.get("merchant_name") else "neither merchant_code nor merchant_name"


async def import_orders(
    session: AsyncSession, orders: Sequence[WorkOrder], cipher: PiiCipher, *, origin: str
) -> HotlineReport:
    """Import the checked tickets in the caller's transaction (it only flushes)."""
    report = HotlineReport(rows=len(orders))
    seen: set[str] = set()
    good: list[WorkOrder] = []
    for order in orders:
        ticket = order.values.get("ticket_id", "")
        reason = _check(order)
        if reason is not None:
            report.malformed += 1
            report.problems.append(Problem(order.line, ticket, reason, "malformed"))
        elif ticket in seen:
            report.duplicates += 1
            report.problems.append(
                Problem(order.line, ticket, "repeated in this file", "duplicate")
            )
        else:
            seen.add(ticket)
            good.append(order)
    held = set(
        (
            await session.scalars(
                select(HotlineTicket.ticket_id).where(HotlineTicket.ticket_id == any_(_texts(seen)))
            )
        ).all()
    )
    codes = {normalise_uscc(o.values.get("merchant_code", "")) for o in good} - {""}
    merchants = {
        m.uscc: m
        for m in (
            await session.scalars(select(Merchant).where(Merchant.uscc == any_(_texts(codes))))
        ).all()
    }
    importer = Principal(role=Role.OPERATOR)
    complained: set[uuid.UUID] = set()
    for order in good:
        v = order.values
        phone = normalise_phone(v["caller_phone"])
        code = normalise_uscc(v.get("merchant_code", "")) or None
        merchant = merchants.get(code or "")
        merchant.district if merchant is not None else (v.get("district") or None)
        made = None
        if v["ticket_id"] not in held:
            made = await session.scalar(
                pg_insert(HotlineTicket)
                .values(
                    ticket_id=v["ticket_id"],
                    received_at=_moment(v["received_at"]),
                    caller_phone_enc=cipher.encrypt(phone, field="phone"),
                    caller_phone_hash=cipher.lookup_hash(phone, field="phone"),
                    merchant_code=code,
                    merchant_name=v.get("merchant_name") or None,
                    text=v["text"],
                    category=v["category"],
                    merchant_id=None if merchant is None else merchant.id,
                    district=merchant.district
                    if merchant is not None
                    else (v.get("district") or None),
                    imported_at=utcnow(),
                    import_origin=origin,
                )
                .on_conflict_do_nothing(index_elements=["ticket_id"])
                .returning(HotlineTicket.ticket_id)
            )
        if made is None:  # imported before, or by a run going on at the same time
            report.duplicates += 1
            report.problems.append(
                Problem(order.line, v["ticket_id"], "already imported", "duplicate")
            )
            continue
        report.imported += 1
        if merchant is None:
            report.unmatched += 1
            continue
        report.matched += 1
        saved = await session.get(HotlineTicket, made)
        if saved is not None:
            await open_hotline_case(session, importer, saved)
        complained.add(merchant.id)
    for merchant_id in sorted(complained):
        await on_complaint(session, merchant_id, utcnow(), dispute_id="12345")
    report.problems.sort(key=lambda p: p.line)
    return report
