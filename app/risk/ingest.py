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

import csv
import hashlib
import io
import math
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from app.clock import today, utcnow
from app.exceptions import Invalid
from app.merchants.models import Merchant
from app.merchants.uscc import normalise_uscc, uscc_problem
from app.risk.models import IndicatorImport, IndicatorRecord
from app.risk.queue import request_rerate
from app.supervision import rules
from scoring import BadData, Indicator, Source
from scoring.indicators import KINDS, Kind, format_value

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

OnError = Literal["refuse", "skip"]
COLUMNS = ("uscc", "kind", "value", "as_of", "provenance")
"""Columns an import file must have; ``source`` may be present and must then match."""
MAX_REPORTED = 1000
"""Rejections listed in a report; the counts are always complete."""
MAX_BYTES = 100 * 1024 * 1024
MAX_PROVENANCE = 500
CHUNK = 2000


@dataclass(frozen=True)
class Row:
    """One record as received, before any check: strings from a CSV, JSON values from the API."""

    line: int
    uscc: object
    source: object
    kind: object
    value: object
    as_of: object
    provenance: object


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
            f"{report.malformed} malformed row(s), so nothing was imported; the first is"
            f" line {first.line}: {first.reason}. Fix them, or import with skip to take the"
            " valid rows",
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
    """Rows of an import file for ``source``; a file that is not a usable CSV is refused."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"the file is {len(data)} bytes; at most {MAX_BYTES} are imported at once")
    if b"\x00" in data:
        raise Invalid("this is a binary file, not a CSV")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid(f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise Invalid(
                f"the header needs the column(s) {', '.join(missing)};"
                f" an indicator file has {', '.join(COLUMNS)} (and optionally source)"
            )
        at = {name: header.index(name) for name in header}
        rows = []
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            line = reader.line_num
            if len(cells) != len(header):
                rows.append(Row(line, cells[0] if cells else "", source, None, None, None, None))
                continue
            rows.append(
                Row(
                    line,
                    cells[at["uscc"]],
                    cells[at["source"]].strip() if "source" in at else source,
                    cells[at["kind"]].strip(),
                    cells[at["value"]].strip(),
                    cells[at["as_of"]].strip(),
                    cells[at["provenance"]].strip(),
                )
            )
    except csv.Error as exc:
        raise Invalid(f"line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise Invalid("the file has a header but no records")
    return rows


def _value(raw: object, kind_type: str) -> object:
    """A CSV cell as the kind's type; JSON values are already typed."""
    if not isinstance(raw, str):
        return raw
    if kind_type == "bool":
        return {"true": True, "false": False}.get(raw.lower(), raw)
    if kind_type == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw


def check_row(row: Row, *, source: str | None, latest: date) -> Indicator | str:
    """The row as an :class:`Indicator`, or why it is malformed."""
    if row.kind is None:
        return "the row does not have as many fields as the header"
    code = _code(row.uscc)
    if code.startswith("!"):
        return code[1:]
    spec = _kind(row, source)
    if isinstance(spec, str):
        return spec
    as_of = _date(row.as_of, latest)
    if isinstance(as_of, str):
        return as_of
    return _indicator(row, code, spec, as_of)


def _indicator(row: Row, code: str, spec: Kind, as_of: date) -> Indicator | str:
    if not isinstance(row.provenance, str) or not row.provenance.strip():
        return "provenance is missing: say where the record comes from"
    if len(row.provenance) > MAX_PROVENANCE:
        return f"provenance is longer than {MAX_PROVENANCE} characters"
    value = _value(row.value, spec.type)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, (bool, float, str)):
        return f"{spec.feature}: {value!r} is not a value"
    try:
        return Indicator(code, spec.source, spec.name, value, as_of, str(row.provenance).strip())
    except BadData as exc:
        return str(exc)


def _code(raw: object) -> str:
    """The normalised code, or ``!`` and why it is not one."""
    if not isinstance(raw, str) or not raw.strip():
        return "!the unified social credit code is missing"
    code = normalise_uscc(raw)
    if problem := uscc_problem(code):
        return f"!{code}: {problem}"
    return code


def _kind(row: Row, source: str | None) -> Kind | str:
    """The catalogue entry of the row's source and kind, or why there is none."""
    if source is not None and row.source != source:
        return f"the row's source {row.source!r} is not this file's source {source!r}"
    if not isinstance(row.source, str) or row.source not in Source.__members__.values():
        return f"there is no source {row.source!r}; the sources are {', '.join(Source)}"
    spec = KINDS.get((Source(row.source), str(row.kind)))
    if spec is None:
        carried = ", ".join(k for s, k in KINDS if s == row.source)
        return f"source {row.source} has no kind {row.kind!r}; it carries {carried}"
    return spec


def _date(raw: object, latest: date) -> date | str:
    if not isinstance(raw, str) or not raw:
        return "as_of is missing; give the date as YYYY-MM-DD"
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        return f"as_of {raw!r} is not a date; give it as YYYY-MM-DD"
    if day > latest:
        return f"as_of {day} is in the future; a record says what was known on a past day"
    return day


def fingerprint(indicator: Indicator, *, snapshot: bool = False) -> bytes:
    """What makes two records the same; a snapshot's value may change, so it is left out."""
    parts = [indicator.source.value, indicator.kind, indicator.as_of.isoformat()]
    parts.append(indicator.provenance)
    if not snapshot:
        parts.append(format_value(indicator.value))
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def stored_value(value: float | str | bool) -> object:  # noqa: FBT001
    """The JSON value kept for a record (whole numbers stay exact)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


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
        checked = check_row(row, source=source, latest=latest)
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
    """Insert the records not already held; return (merchant, record id, kind) of the new ones."""
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
            await rules.on_record(
                session,
                merchant_id,
                record_id=record_id,
                source=source,
                kind=kind,
                value=value,
                as_of=as_of.isoformat(),
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


def csv_digest(data: bytes, source: str) -> bytes:
    """Identity of a CSV import: the source it was imported as and its bytes."""
    return hashlib.sha256(b"csv\x1f" + source.encode() + b"\x1f" + data).digest()
