"""Reconciliation of the custody bank's daily statement against the ledger's custody account.

Every entry that moves custody money is a transfer the platform instructs the custody bank
to make, quoting the entry's reference (:func:`reference`). The bank's statement lists what
actually moved; :func:`reconcile` pairs the two by reference and reports what is missing,
unexpected or different, and the shortfall of each merchant's custody. Everything here but
:func:`custody_movements` is pure, so the matching rules are tested without a database.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from escrow.errors import BadStatement
from escrow.money import MAX_AMOUNT_FEN

if TYPE_CHECKING:
    import uuid
    from collections.abc import Collection, Mapping, Sequence

    from sqlalchemy.ext.asyncio import AsyncSession

BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
"""Statements and their days are counted in China Standard Time."""

HEADER = ("date", "account", "reference", "amount")
"""The statement's columns, in this order."""

_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AMOUNT = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_BINARY = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd]")
"""Control characters (tab and line ends aside) and U+FFFD: what decoded binary looks like."""
_FEN_PER_YUAN = 100


@dataclass(frozen=True, slots=True)
class Movement:
    """A custody movement the ledger expects on the statement (fen; + in, - out)."""

    day: date
    merchant_id: uuid.UUID
    reference: str
    amount: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "day": self.day.isoformat(),
            "merchant_id": str(self.merchant_id),
            "reference": self.reference,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One line of the bank's statement, amount converted to fen; ``line`` counts the header."""

    line: int
    day: date
    account: str
    reference: str
    amount: int

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "line": self.line,
            "day": self.day.isoformat(),
            "account": self.account,
            "reference": self.reference,
            "amount": self.amount,
        }


@dataclass(frozen=True, slots=True)
class Pair:
    """An expected movement and the statement line carrying its reference."""

    expected: Movement
    line: StatementLine

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {"expected": self.expected.to_dict(), "line": self.line.to_dict()}


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """The outcome of matching a statement, every list in a fixed order.

    ``matched`` and ``mismatched`` follow the statement's lines, ``unexpected`` too,
    ``missing`` is ordered by day, merchant and entry, ``shortfall`` by merchant.
    """

    matched: tuple[Pair, ...] = ()
    missing: tuple[Movement, ...] = ()
    """Expected, but no line carries the reference (or only a line of an unknown account)."""
    unexpected: tuple[StatementLine, ...] = ()
    """Lines with a reference nothing expects, or on an account of no known merchant."""
    mismatched: tuple[Pair, ...] = ()
    """Same reference, but another amount or another merchant's account."""
    shortfall: dict[uuid.UUID, int] = field(default_factory=dict)
    """Per merchant, fen expected in custody but not on its accounts; only where positive."""
    unknown_accounts: tuple[str, ...] = ()
    """Statement accounts that belong to no merchant: map them or ask the bank."""
    not_on_statement: tuple[uuid.UUID, ...] = ()
    """Merchants with movements expected of which the statement says nothing (no line on their
    accounts, none quoting their references): not judged by it (no shortfall, no missing
    movement), only named so that their statement is asked for."""
    unlisted: tuple[Movement, ...] = ()
    """The movements of those merchants, which this statement neither confirms nor denies."""

    @property
    def ok(self) -> bool:
        """True when the statement and the ledger agree on every movement it can judge."""
        return not (self.missing or self.unexpected or self.mismatched or self.shortfall)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form for reports and the operator's API."""
        return {
            "ok": self.ok,
            "matched": [pair.to_dict() for pair in self.matched],
            "missing": [movement.to_dict() for movement in self.missing],
            "unexpected": [line.to_dict() for line in self.unexpected],
            "mismatched": [pair.to_dict() for pair in self.mismatched],
            "shortfall": {str(merchant): fen for merchant, fen in self.shortfall.items()},
            "unknown_accounts": list(self.unknown_accounts),
            "not_on_statement": [str(merchant) for merchant in self.not_on_statement],
            "unlisted": [movement.to_dict() for movement in self.unlisted],
        }


def reference(merchant_id: uuid.UUID, seq: int) -> str:
    """The reference of a merchant's journal entry: ``PG-<first 12 hex of the id>-<seq>``.

    The platform quotes it in every custody transfer instruction, and the bank carries it to
    the statement. Twelve hex digits (48 random bits of a UUID4) tell merchants apart; the
    statement's account must also belong to the merchant, so a collision cannot match.
    """
    return f"PG-{merchant_id.hex[:12]}-{seq}"


_MOVEMENTS = text("""
    SELECT e.merchant_id, e.seq, e.created_at, sum(p.amount)::bigint AS amount
      FROM journal_entries e
      JOIN postings p ON p.merchant_id = e.merchant_id AND p.seq = e.seq
     WHERE e.merchant_id = ANY(:merchants) AND p.account = 'custody'
       AND e.created_at >= :since AND e.created_at < :until
     GROUP BY e.merchant_id, e.seq, e.created_at
    HAVING sum(p.amount) <> 0
""")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(), BUSINESS_TZ).astimezone(UTC)


async def custody_movements(
    session: AsyncSession, merchant_ids: Collection[uuid.UUID], start: date, end: date
) -> list[Movement]:
    """The custody transfers the ledger expects from ``start`` to ``end`` (both included).

    One movement per journal entry that changed the merchant's custody balance: the net of
    its custody postings (+ into custody, - out), on the entry's business day in
    Asia/Shanghai, under the reference ``PG-<merchant_id.hex[:12]>-<seq>`` that the platform
    quotes in every custody transfer instruction (see :func:`reference`). Entries that move
    no custody money (a redemption releasing nothing, a compensation) have no movement.
    Ordered by day, merchant and entry.
    """
    rows = await session.execute(
        _MOVEMENTS,
        {
            "merchants": list(merchant_ids),
            "since": _start_of(start),
            "until": _start_of(end + timedelta(days=1)),
        },
    )
    return sorted(
        (
            Movement(
                day=row.created_at.astimezone(BUSINESS_TZ).date(),
                merchant_id=row.merchant_id,
                reference=reference(row.merchant_id, row.seq),
                amount=int(row.amount),
            )
            for row in rows
        ),
        key=_movement_order,
    )


def parse_statement(text: str) -> list[StatementLine]:  # noqa: C901 - one check per rule
    """Read the custody bank's daily statement CSV into lines with integer-fen amounts.

    The header is ``date,account,reference,amount``; dates are ``YYYY-MM-DD``; amounts are
    yuan with at most two decimals (``1234.50``, ``-30.00``), converted exactly. Anything
    else is refused with :class:`~escrow.errors.BadStatement` naming the line, rather than
    guessed at: a misread statement would hide or invent a shortfall. A header without lines
    is a day without movements; blank lines are skipped.
    """
    if not isinstance(text, str):
        raise BadStatement(
            1,
            "the statement must be text (a CSV file decoded as UTF-8)",
            code="statement-not-text",
        )
    text = text.removeprefix("\ufeff")
    binary = _BINARY.search(text)
    if binary:
        line = text.count("\n", 0, binary.start()) + 1
        character = f"U+{ord(binary.group()):04X}"
        raise BadStatement(
            line,
            f"character {character} is not text; this is not a CSV statement",
            code="statement-binary",
            character=character,
        )
    if not text.strip():
        raise BadStatement(
            1,
            "the statement is empty; expected the header " + ",".join(HEADER),
            code="statement-empty",
            header=",".join(HEADER),
        )
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[StatementLine] = []
    header_seen = False
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise BadStatement(
                reader.line_num, f"malformed CSV ({exc})", code="statement-malformed-csv"
            ) from exc
        number = reader.line_num
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if not header_seen:
            if tuple(cell.lower() for cell in cells) != HEADER:
                raise BadStatement(
                    number,
                    f"expected the header {','.join(HEADER)}, found {','.join(cells)}",
                    code="statement-wrong-header",
                    header=",".join(HEADER),
                    found=",".join(cells),
                )
            header_seen = True
            continue
        if len(cells) != len(HEADER):
            raise BadStatement(
                number,
                f"expected {len(HEADER)} columns ({','.join(HEADER)}), found {len(cells)}",
                code="statement-wrong-columns",
                columns=len(HEADER),
                header=",".join(HEADER),
                found=len(cells),
            )
        day, account, ref, amount = cells
        if not account:
            raise BadStatement(number, "the account is empty", code="statement-no-account")
        lines.append(
            StatementLine(
                line=number,
                day=_parse_day(number, day),
                account=account,
                reference=ref,
                amount=_parse_fen(number, amount),
            )
        )
    return lines


def _parse_day(number: int, value: str) -> date:
    if not _DATE.fullmatch(value):
        raise BadStatement(
            number,
            f"date {value!r} is not in the form YYYY-MM-DD",
            code="statement-date-form",
            value=value,
        )
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise BadStatement(
            number, f"date {value!r} does not exist", code="statement-no-such-date", value=value
        ) from exc


def _parse_fen(number: int, value: str) -> int:
    if not _AMOUNT.fullmatch(value):
        raise BadStatement(
            number,
            f"amount {value!r} is not a number of yuan such as 1234.50",
            code="statement-amount-form",
            value=value,
        )
    if "." in value and len(value.split(".")[1]) > 2:  # noqa: PLR2004 - fen are 1/100 yuan
        raise BadStatement(
            number,
            f"amount {value!r} has more than two decimals",
            code="statement-amount-decimals",
            value=value,
        )
    fen = int(Decimal(value) * _FEN_PER_YUAN)
    if abs(fen) > MAX_AMOUNT_FEN:
        raise BadStatement(
            number,
            f"amount {value!r} is above the ceiling of any custody account",
            code="statement-amount-ceiling",
            value=value,
        )
    return fen


def reconcile(
    expected: Sequence[Movement],
    lines: Sequence[StatementLine],
    account_of: Mapping[str, uuid.UUID],
) -> Reconciliation:
    """Match statement lines to expected movements by reference.

    A statement judges only the merchants it speaks to: those with a line on one of their
    custody accounts, or a line quoting one of their movements' references. The others are
    not judged (their movements are ``unlisted``, the merchants named in
    ``not_on_statement``), so a partial statement cannot make every other merchant look short.
    For the merchants it judges: a line matches when its reference, amount and merchant
    (``account_of`` maps custody account numbers to merchants) are the expected ones; a line
    with an expected reference but another amount or another merchant's account is
    mismatched; a line on an unknown account, or whose reference nothing expects, is
    unexpected; an expected movement that no
    line carries is missing. Exact matches are paired first, so a duplicate or wrong line
    cannot take a correct line's place. A merchant's shortfall is what it expected minus what
    arrived on its own custody accounts on lines matched or mismatched to its movements (a
    line on another merchant's account is reported as mismatched but brings nothing to this
    merchant's custody); only positive shortfalls are reported. The result does not depend
    on the order of the inputs.
    """
    quoted = {line.reference for line in lines}
    listed = {account_of[line.account] for line in lines if line.account in account_of}
    listed |= {m.merchant_id for m in expected if m.reference in quoted}
    unlisted = tuple(
        sorted((m for m in expected if m.merchant_id not in listed), key=_movement_order)
    )
    expected = [m for m in expected if m.merchant_id in listed]
    pending: dict[str, list[Movement]] = {}
    for movement in sorted(expected, key=_movement_order):
        pending.setdefault(movement.reference, []).append(movement)
    ordered = sorted(lines, key=_line_order)
    known = [line for line in ordered if line.account in account_of]

    matched: list[Pair] = []
    left: list[StatementLine] = []
    for line in known:
        candidates = pending.get(line.reference, [])
        exact = next(
            (
                m
                for m in candidates
                if m.amount == line.amount and m.merchant_id == account_of[line.account]
            ),
            None,
        )
        if exact is None:
            left.append(line)
        else:
            candidates.remove(exact)
            matched.append(Pair(exact, line))

    mismatched: list[Pair] = []
    unexpected = [line for line in ordered if line.account not in account_of]
    for line in left:
        candidates = pending.get(line.reference, [])
        if candidates:
            mismatched.append(Pair(candidates.pop(0), line))
        else:
            unexpected.append(line)

    totals: dict[uuid.UUID, int] = {}
    for movement in expected:
        totals[movement.merchant_id] = totals.get(movement.merchant_id, 0) + movement.amount
    for pair in (*matched, *mismatched):
        merchant = pair.expected.merchant_id
        # Money on another merchant's custody account is not in this merchant's custody.
        if account_of[pair.line.account] == merchant:
            totals[merchant] -= pair.line.amount
    return Reconciliation(
        matched=tuple(matched),
        missing=tuple(sorted((m for ms in pending.values() for m in ms), key=_movement_order)),
        unexpected=tuple(sorted(unexpected, key=_line_order)),
        mismatched=tuple(mismatched),
        shortfall={m: fen for m, fen in sorted(totals.items(), key=_by_merchant) if fen > 0},
        unknown_accounts=tuple(sorted({line.account for line in lines} - set(account_of))),
        not_on_statement=tuple(sorted({m.merchant_id for m in unlisted}, key=str)),
        unlisted=unlisted,
    )


def _movement_order(m: Movement) -> tuple[date, str, int, str, int]:
    # Shorter references first: one merchant's PG-...-9 comes before its PG-...-10.
    return (m.day, str(m.merchant_id), len(m.reference), m.reference, m.amount)


def _line_order(line: StatementLine) -> tuple[int, date, str, str, int]:
    return (line.line, line.day, line.account, line.reference, line.amount)


def _by_merchant(item: tuple[uuid.UUID, int]) -> str:
    return str(item[0])
