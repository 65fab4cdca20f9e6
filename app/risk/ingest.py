"""Indicator ingestion: CSV files and JSON batches, validated row by row, written all at once.

A batch is one unit of work. Each row is checked (its code's check character, a catalogued
source and kind, a value of the kind's type, a real date not in the future, a provenance);
codes are matched to merchants by the code alone, never by name. Then:

* a *malformed* row is reported with its line; the caller chooses whether the rest is still
  imported (``skip``) or the whole batch is refused (``refuse``, the default);
* a valid code that names no merchant on the platform is *unknown*: rejected and reported,
  never fatal, because a bureau's file covers far more companies than the platform serves;
* a record already held (same merchant, source, kind, value, date and provenance) is a
  *duplicate* and changes nothing; so is a whole batch already imported (same bytes).

Accepted records queue their merchants for re-rating in the same transaction.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.clock import today, utcnow
from app.events import publish
from app.exceptions import Invalid
from app.merchants.models import Merchant
from app.merchants.uscc import normalise_uscc, uscc_problem
from app.risk.events import RecordIngested
from app.risk.models import IndicatorImport, IndicatorRecord
from app.risk.queue import request_rerate
from scoring.intake import (
    COLUMNS,
    Row,
    check_row,
    csv_digest,
    fingerprint,
    read_csv,
    stored_value,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from datetime import datetime

    from sqlalchemy.ext.asyncio import AsyncSession

    from scoring import Indicator

__all__ = [
    "COLUMNS",
    "BatchRefused",
    "ImportReport",
    "OnError",
    "Rejection",
    "Row",
    "batch_digest",
    "csv_digest",
    "fingerprint",
    "import_rows",
    "parse_csv",
    "stored_value",
]

OnError = Literal["refuse", "skip"]
MAX_REPORTED = 1000
"""Rejections listed in a report; the counts are always complete."""
CHUNK = 2000


@dataclass(frozen=True)
class Rejection:
    """A row not imported, and why."""

    line: int
    uscc: str
    reason: str
    problem: Literal["malformed", "unknown"]

    def to_dict(self) -> dict[str, object]:
        """Plain data for reports."""
        return {
            "line": self.line,
            "uscc": self.uscc,
            "problem": self.problem,
            "reason": self.reason,
        }


@dataclass
class ImportReport:
    """What became of a batch: the counts, the rejected rows, and whether it was a replay."""

    import_id: uuid.UUID | None
    rows: int
    accepted: int = 0
    duplicates: int = 0
    unknown: int = 0
    malformed: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    merchants: int = 0
    """Merchants with new records, queued for re-rating."""
    replayed: bool = False
    imported_at: datetime | None = None

    def to_dict(self) -> dict[str, object]:
        """Plain data: the stored report and the API's answer."""
        return {
            "import_id": str(self.import_id) if self.import_id else None,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "unknown": self.unknown,
            "malformed": self.malformed,
            "merchants": self.merchants,
            "replayed": self.replayed,
            "imported_at": self.imported_at.isoformat() if self.imported_at else None,
            "rejections": [r.to_dict() for r in self.rejections[:MAX_REPORTED]],
            "rejections_listed": min(len(self.rejections), MAX_REPORTED),
        }


class BatchRefused(Invalid):
    """The batch has malformed rows and the caller asked for all or nothing: nothing written."""

    code = "indicators-refused"

    def __init__(self, report: ImportReport) -> None:
        first = report.rejections[0]
        super().__init__(
            "indicators-refused",
            malformed=report.malformed,
            line=first.line,
            reason=first.reason,
            errors=[r.to_dict() for r in report.rejections if r.problem == "malformed"][
                :MAX_REPORTED
            ],
        )
        self.report = report


@dataclass(frozen=True)
class _Valid:
    line: int
    indicator: Indicator


def parse_csv(data: bytes, source: str) -> list[Row]:
    """Rows of an import file for ``source``; a file that is not a usable CSV is refused.

    The refusal is :class:`scoring.BadData` with the file's problem as its code
    (``indicator-file-…``, :func:`scoring.intake.read_csv`).
    """
    return read_csv(data, source)


async def import_rows(
    session: AsyncSession,
    rows: Sequence[Row],
    *,
    channel: Literal["csv", "api"],
    origin: str,
    digest: bytes,
    source: str | None,
    on_error: OnError,
    imported_by: uuid.UUID | None,
) -> ImportReport:
    """Check and import one batch in the caller's transaction (it only flushes).

    Raises :class:`BatchRefused` (nothing written) when ``on_error`` is ``refuse`` and any row
    is malformed. A batch with the same digest as an earlier one returns that one's report.
    """
    earlier = await session.scalar(select(IndicatorImport).where(IndicatorImport.digest == digest))
    if earlier is not None:
        return _replay(earlier)
    report = ImportReport(import_id=None, rows=len(rows))
    valid = _check_all(rows, source, report)
    if report.malformed and on_error == "refuse":
        raise BatchRefused(report)
    merchants = await _merchant_ids(session, {v.indicator.uscc for v in valid})
    known = []
    for item in valid:
        if item.indicator.uscc in merchants:
            known.append(item)
        else:
            report.unknown += 1
            report.rejections.append(
                Rejection(
                    item.line,
                    item.indicator.uscc,
                    "no merchant on the platform has this code",
                    "unknown",
                )
            )
    report.rejections.sort(key=lambda r: r.line)
    batch = IndicatorImport(
        id=uuid.uuid4(),
        channel=channel,
        origin=origin,
        digest=digest,
        imported_by=imported_by,
        accepted=0,
        duplicates=0,
        unknown=report.unknown,
        malformed=report.malformed,
        report={},
        created_at=utcnow(),
    )
    session.add(batch)
    await session.flush()
    report.import_id = batch.id
    report.imported_at = batch.created_at
    inserted = await _insert(session, known, merchants, batch.id)
    report.accepted = len(inserted)
    report.duplicates = len(known) - report.accepted
    first: dict[uuid.UUID, tuple[int, str]] = {}
    for merchant_id, record_id, label in inserted:
        first.setdefault(merchant_id, (record_id, label))
    for merchant_id, (record_id, label) in sorted(first.items()):
        await request_rerate(session, merchant_id, f"indicator {label}", str(record_id))
    report.merchants = len(first)
    batch.accepted = report.accepted
    batch.duplicates = report.duplicates
    batch.report = report.to_dict()
    await session.flush()
    return report


def _check_all(rows: Iterable[Row], source: str | None, report: ImportReport) -> list[_Valid]:
    latest = today()
    valid = []
    for row in rows:
        checked = check_row(
            row, source=source, latest=latest, normalise=normalise_uscc, code_problem=uscc_problem
        )
        if isinstance(checked, str):
            report.malformed += 1
            uscc = row.uscc if isinstance(row.uscc, str) else ""
            report.rejections.append(Rejection(row.line, uscc, checked, "malformed"))
        else:
            valid.append(_Valid(row.line, checked))
    return valid


async def _merchant_ids(session: AsyncSession, codes: set[str]) -> dict[str, uuid.UUID]:
    found: dict[str, uuid.UUID] = {}
    ordered = sorted(codes)
    for start in range(0, len(ordered), CHUNK):
        chunk = ordered[start : start + CHUNK]
        result = await session.execute(
            select(Merchant.uscc, Merchant.id).where(Merchant.uscc.in_(chunk))
        )
        found.update(dict(result.all()))
    return found


async def _insert(
    session: AsyncSession,
    items: Sequence[_Valid],
    merchants: dict[str, uuid.UUID],
    import_id: uuid.UUID,
) -> list[tuple[uuid.UUID, int, str]]:
    """Insert the records not already held; return (merchant, record id, kind) of the new ones.

    In merchant order: each statement's records lock their merchants' stamps (``record_stamps``,
    kept by a trigger) until commit, and transactions that take them in one order cannot
    deadlock on them.
    """
    items = sorted(items, key=lambda item: merchants[item.indicator.uscc])
    now = utcnow()
    inserted: list[tuple[uuid.UUID, int, str]] = []
    for start in range(0, len(items), CHUNK):
        values: list[dict[str, Any]] = [
            {
                "merchant_id": merchants[item.indicator.uscc],
                "source": item.indicator.source.value,
                "kind": item.indicator.kind,
                "value": stored_value(item.indicator.value),
                "as_of": item.indicator.as_of,
                "provenance": item.indicator.provenance,
                "fingerprint": fingerprint(item.indicator),
                "import_id": import_id,
                "received_at": now,
            }
            for item in items[start : start + CHUNK]
        ]
        result = await session.execute(
            pg_insert(IndicatorRecord)
            .values(values)
            .on_conflict_do_nothing(index_elements=["merchant_id", "fingerprint"])
            .returning(
                IndicatorRecord.merchant_id,
                IndicatorRecord.id,
                IndicatorRecord.source,
                IndicatorRecord.kind,
                IndicatorRecord.value,
                IndicatorRecord.as_of,
            )
        )
        for merchant_id, record_id, source, kind, value, as_of in result.all():
            inserted.append((merchant_id, record_id, f"{source}/{kind}"))
            await publish(
                session,
                RecordIngested(
                    merchant_id,
                    record_id=record_id,
                    source=source,
                    kind=kind,
                    value=value,
                    as_of=as_of.isoformat(),
                ),
            )
    return inserted


def _replay(earlier: IndicatorImport) -> ImportReport:
    stored = earlier.report
    rejections = [
        Rejection(int(r["line"]), str(r["uscc"]), str(r["reason"]), r["problem"])
        for r in stored.get("rejections", [])
    ]
    return ImportReport(
        import_id=earlier.id,
        rows=int(stored.get("rows", 0)),
        accepted=earlier.accepted,
        duplicates=earlier.duplicates,
        unknown=earlier.unknown,
        malformed=earlier.malformed,
        rejections=rejections,
        merchants=int(stored.get("merchants", 0)),
        replayed=True,
        imported_at=earlier.created_at,
    )


def batch_digest(records: Sequence[object]) -> bytes:
    """Identity of an API batch: its records as plain JSON data, keys sorted."""
    canonical = json.dumps(records, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(b"api\x1f" + canonical.encode()).digest()
