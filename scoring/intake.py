"""Indicator rows as they arrive, checked one by one before anything is stored.

A bureau's CSV file or an API batch becomes :class:`Row` objects (strings from a CSV, JSON
values from the API); :func:`check_row` turns each into an :class:`~scoring.Indicator` or says
in words why it is malformed. Every check is here, pure: the code's shape and check character
(through the functions the caller passes: the platform's own rule for the codes it matches
merchants by), a catalogued source and kind, a value of the kind's type, a real date
not after ``latest``, a provenance. What a record is, for deduplication, is its
:func:`fingerprint`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from scoring.errors import BadData
from scoring.indicators import KINDS, Indicator, Kind, Source, Value, format_value

if TYPE_CHECKING:
    from collections.abc import Callable

COLUMNS = ("uscc", "kind", "value", "as_of", "provenance")
"""Columns an import file must have; ``source`` may be present and must then match."""
MAX_BYTES = 100 * 1024 * 1024
MAX_PROVENANCE = 500


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


def read_csv(data: bytes, source: str) -> list[Row]:
    """Rows of an import file for ``source``; a file that is not a usable CSV is :class:`BadData`.

    Each refusal carries its own ``code`` (``indicator-file-…``) and the parameters of its words.

    Blank lines are skipped; a line with more or fewer cells than the header is kept as a row
    with no kind, so that it is reported (malformed) with its line number.
    """
    if len(data) > MAX_BYTES:
        raise BadData(
            f"the file is {len(data)} bytes; at most {MAX_BYTES} are imported at once",
            code="indicator-file-too-large",
            size=len(data),
            limit=MAX_BYTES,
        )
    if b"\x00" in data:
        raise BadData("this is a binary file, not a CSV", code="indicator-file-binary")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadData(
            f"the file is not UTF-8 text (byte {exc.start}); save it as UTF-8",
            code="indicator-file-not-utf8",
            byte=exc.start,
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in next(reader, [])]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise BadData(
                f"the header needs the column(s) {', '.join(missing)};"
                f" an indicator file has {', '.join(COLUMNS)} (and optionally source)",
                code="indicator-file-columns-missing",
                missing=", ".join(missing),
                columns=", ".join(COLUMNS),
            )
        at = {name: header.index(name) for name in header}
        rows = [
            _row(cells, at, len(header), reader.line_num, source)
            for cells in reader
            if cells and any(c.strip() for c in cells)
        ]
    except csv.Error as exc:
        raise BadData(
            f"not valid CSV ({exc})",
            line=reader.line_num,
            code="indicator-file-not-csv",
            problem=str(exc),
        ) from None
    if not rows:
        raise BadData("the file has a header but no records", code="indicator-file-empty")
    return rows


def _row(cells: list[str], at: dict[str, int], width: int, line: int, source: str) -> Row:
    if len(cells) != width:
        return Row(line, cells[0], source, None, None, None, None)
    return Row(
        line,
        cells[at["uscc"]],
        cells[at["source"]].strip() if "source" in at else source,
        cells[at["kind"]].strip(),
        cells[at["value"]].strip(),
        cells[at["as_of"]].strip(),
        cells[at["provenance"]].strip(),
    )


def check_row(
    row: Row,
    *,
    source: str | None,
    latest: date,
    normalise: Callable[[str], str],
    code_problem: Callable[[str], str | None],
) -> Indicator | str:
    """The row as an :class:`Indicator`, or why it is malformed.

    ``source`` is the file's source (a row must match it), ``None`` for a batch whose rows
    name their own; ``latest`` the last day a record may be dated; ``normalise`` writes a
    code as it is stored and ``code_problem`` says why a normalised code is not a valid one
    (``None`` if it is).
    """
    if row.kind is None:
        return "the row does not have as many fields as the header"
    code = _code(row.uscc, normalise, code_problem)
    if code.startswith("!"):
        return code[1:]
    spec = _kind(row, source)
    if isinstance(spec, str):
        return spec
    as_of = _date(row.as_of, latest)
    if isinstance(as_of, str):
        return as_of
    return _indicator(row, code, spec, as_of)


def _code(
    raw: object, normalise: Callable[[str], str], code_problem: Callable[[str], str | None]
) -> str:
    """The normalised code, or ``!`` and why it is not one."""
    if not isinstance(raw, str) or not raw.strip():
        return "!the unified social credit code is missing"
    code = normalise(raw)
    if problem := code_problem(code):
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


def typed_value(raw: object, kind_type: str) -> object:
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


def _indicator(row: Row, code: str, spec: Kind, as_of: date) -> Indicator | str:
    if not isinstance(row.provenance, str) or not row.provenance.strip():
        return "provenance is missing: say where the record comes from"
    if len(row.provenance) > MAX_PROVENANCE:
        return f"provenance is longer than {MAX_PROVENANCE} characters"
    value = typed_value(row.value, spec.type)
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, (bool, float, str)):
        return f"{spec.feature}: {value!r} is not a value"
    try:
        return Indicator(code, spec.source, spec.name, value, as_of, str(row.provenance).strip())
    except BadData as exc:
        return str(exc)


def fingerprint(indicator: Indicator, *, snapshot: bool = False) -> bytes:
    """What makes two records the same; a snapshot's value may change, so it is left out."""
    parts = [indicator.source.value, indicator.kind, indicator.as_of.isoformat()]
    parts.append(indicator.provenance)
    if not snapshot:
        parts.append(format_value(indicator.value))
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def stored_value(value: Value) -> Value | int:
    """The JSON value kept for a record (whole numbers stay exact)."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def csv_digest(data: bytes, source: str) -> bytes:
    """Identity of a CSV import: the source it was imported as and its bytes."""
    return hashlib.sha256(b"csv\x1f" + source.encode() + b"\x1f" + data).digest()
