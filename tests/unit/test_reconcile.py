"""Reading the custody bank's statement and matching it against the ledger: no database."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from escrow import BadStatement, EscrowError, Movement, StatementLine, parse_statement, reconcile
from escrow.reconcile import Pair, reference

HEADER = "date,account,reference,amount\n"
A = uuid.UUID("00000000-0000-4000-8000-00000000000a")
B = uuid.UUID("00000000-0000-4000-8000-00000000000b")
C = uuid.UUID("00000000-0000-4000-8000-00000000000c")
ACCOUNTS = {"6222-A": A, "6222-B": B, "6222-C": C}
DAY = date(2026, 3, 2)


# -- parse_statement ---------------------------------------------------------------------


def test_good_statement_is_read_to_the_fen() -> None:
    text = (
        "\ufeffdate,account,reference,amount\r\n"
        "2026-03-02,6222-A,PG-0000000a-1,1234.50\r\n"
        "2026-03-02, 6222-A ,PG-0000000a-2,-30.00\r\n"
        "\r\n"
        '2026-03-03,6222-B,"ref, with comma",0.29\r\n'
        "2026-03-03,6222-B,,100\r\n"
        "2026-03-03,6222-B,R5,+0.1\r\n"
        "2026-03-03,6222-B,R6,99999999.99\r\n"
        "2026-03-03,6222-B,R7,-0.01\r\n"
    )
    assert parse_statement(text) == [
        StatementLine(2, DAY, "6222-A", "PG-0000000a-1", 123_450),
        StatementLine(3, DAY, "6222-A", "PG-0000000a-2", -3_000),
        StatementLine(5, date(2026, 3, 3), "6222-B", "ref, with comma", 29),
        StatementLine(6, date(2026, 3, 3), "6222-B", "", 10_000),
        StatementLine(7, date(2026, 3, 3), "6222-B", "R5", 10),
        StatementLine(8, date(2026, 3, 3), "6222-B", "R6", 9_999_999_999),
        StatementLine(9, date(2026, 3, 3), "6222-B", "R7", -1),
    ]


def test_header_alone_is_a_day_without_movements() -> None:
    assert parse_statement(HEADER) == []
    assert parse_statement("DATE,Account,Reference,Amount") == []


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_every_fen_amount_round_trips_exactly(fen: int) -> None:
    sign = "-" if fen < 0 else ""
    yuan = f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"
    (line,) = parse_statement(f"{HEADER}2026-03-02,6222-A,R,{yuan}\n")
    assert line.amount == fen


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("", 1, "empty"),
        (" \n\n ", 1, "empty"),
        ("date,account,amount\n", 1, "expected the header"),
        ("2026-03-02,6222-A,R,1.00\n", 1, "expected the header"),
        (f"{HEADER}2026-03-02,6222-A,1.00\n", 2, "expected 4 columns"),
        (f"{HEADER}2026-03-02,6222-A,R,1.00,extra\n", 2, "found 5"),
        (f"{HEADER}2026-03-02,6222-A,R,1.00\n2026-03-02\n", 3, "expected 4 columns"),
        (f"{HEADER}2026-02-30,6222-A,R,1.00\n", 2, "does not exist"),
        (f"{HEADER}2026/03/02,6222-A,R,1.00\n", 2, "YYYY-MM-DD"),
        (f"{HEADER}20260302,6222-A,R,1.00\n", 2, "YYYY-MM-DD"),
        (f"{HEADER},6222-A,R,1.00\n", 2, "YYYY-MM-DD"),
        (f"{HEADER}2026-03-02,,R,1.00\n", 2, "account is empty"),
        (f"{HEADER}2026-03-02,6222-A,R,12.345\n", 2, "more than two decimals"),
        (f"{HEADER}2026-03-02,6222-A,R,0.001\n", 2, "more than two decimals"),
        (f"{HEADER}2026-03-02,6222-A,R,abc\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,1e3\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,NaN\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,Infinity\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,.50\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,5.\n", 2, "not a number"),
        (f'{HEADER}2026-03-02,6222-A,R,"1,234.50"\n', 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,¥12.00\n", 2, "not a number"),
        (f"{HEADER}2026-03-02,6222-A,R,１２.００\n", 2, "not a number"),  # full-width digits
        (f"{HEADER}2026-03-02,6222-A,R,99999999999.99\n", 2, "above the ceiling"),
        (f'{HEADER}2026-03-02,6222-A,"R,1.00\n', 2, "malformed CSV"),
        (f"{HEADER}2026-03-02,6222-A,R,1.00\nPK\x03\x04\x00\x00", 3, "is not text"),
        ("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, "U+0089"),  # binary read as Latin-1
        (f"{HEADER}2026-03-02,6222-A,R\ufffd,1.00\n", 2, "U+FFFD"),
    ],
)
def test_bad_statement_names_its_line_and_the_problem(text: str, line: int, problem: str) -> None:
    with pytest.raises(BadStatement) as caught:
        parse_statement(text)
    assert caught.value.line == line
    assert f"statement line {line}:" in str(caught.value)
    assert problem in str(caught.value)
    assert isinstance(caught.value, EscrowError)
    assert caught.value.code == _CODE_OF[problem]
    assert caught.value.params["line"] == line


_CODE_OF = {
    "empty": "statement-empty",
    "expected the header": "statement-wrong-header",
    "expected 4 columns": "statement-wrong-columns",
    "found 5": "statement-wrong-columns",
    "does not exist": "statement-no-such-date",
    "YYYY-MM-DD": "statement-date-form",
    "account is empty": "statement-no-account",
    "more than two decimals": "statement-amount-decimals",
    "not a number": "statement-amount-form",
    "above the ceiling": "statement-amount-ceiling",
    "malformed CSV": "statement-malformed-csv",
    "is not text": "statement-binary",
    "U+0089": "statement-binary",
    "U+FFFD": "statement-binary",
}
"""Each situation's own code, so the page words say what is wrong without the English."""


def test_bytes_are_refused() -> None:
    with pytest.raises(BadStatement, match="must be text"):
        parse_statement(HEADER.encode())  # type: ignore[arg-type]


# -- reconcile ---------------------------------------------------------------------------


def _line(n: int, account: str, ref: str, amount: int, day: date = DAY) -> StatementLine:
    return StatementLine(n, day, account, ref, amount)


EXPECTED = [
    Movement(DAY, A, "A-1", 30_000),  # matched
    Movement(DAY, A, "A-2", -1_500),  # matched
    Movement(DAY, A, "A-3", 9_000),  # statement says 8,000: mismatched
    Movement(DAY, A, "A-4", 600),  # missing
    Movement(DAY, B, "B-1", 5_000),  # on merchant C's account: mismatched
    Movement(DAY, B, "B-2", 2_000),  # only on an unknown account: missing
    Movement(DAY, C, "C-1", -700),  # matched; C receives more than expected
]
LINES = [
    _line(2, "6222-A", "A-1", 30_000),
    _line(3, "6222-A", "A-2", -1_500),
    _line(4, "6222-A", "A-3", 8_000),
    _line(5, "6222-C", "B-1", 5_000),
    _line(6, "9999-X", "B-2", 2_000),  # unknown account
    _line(7, "6222-C", "C-1", -700),
    _line(8, "6222-C", "INTEREST", 12),  # nothing expects it
    _line(9, "6222-A", "A-1", 30_000),  # the same transfer twice
]


def test_reconcile_sorts_every_line_and_computes_the_shortfall_exactly() -> None:
    result = reconcile(EXPECTED, LINES, ACCOUNTS)
    assert [(p.expected.reference, p.line.line) for p in result.matched] == [
        ("A-1", 2),
        ("A-2", 3),
        ("C-1", 7),
    ]
    assert [(p.expected.reference, p.line.line) for p in result.mismatched] == [
        ("A-3", 4),
        ("B-1", 5),
    ]
    assert [m.reference for m in result.missing] == ["A-4", "B-2"]
    assert [line.line for line in result.unexpected] == [6, 8, 9]
    assert result.unknown_accounts == ("9999-X",)
    # A expected 38,100 and got 30,000 - 1,500 + 8,000 = 36,500 on its movements' lines
    # B expected 7,000 and got nothing: 5,000 carrying B's reference landed on C's account
    # C expected -700 and got -700: nothing short; the interest line is not C's movement
    assert result.shortfall == {A: 1_600, B: 7_000}
    assert not result.ok


def test_unknown_account_is_unexpected_even_with_an_expected_reference() -> None:
    movement = Movement(DAY, A, "A-1", 100)
    result = reconcile([movement], [_line(2, "elsewhere", "A-1", 100)], ACCOUNTS)
    assert result.matched == ()
    assert result.mismatched == ()
    assert [line.account for line in result.unexpected] == ["elsewhere"]
    assert result.missing == (movement,)
    assert result.shortfall == {A: 100}
    assert result.unknown_accounts == ("elsewhere",)


def test_a_line_on_another_merchants_account_is_not_in_this_merchants_custody() -> None:
    movement = Movement(DAY, A, "A-1", 10_000)
    line = _line(2, "6222-B", "A-1", 10_000)
    result = reconcile([movement], [line], ACCOUNTS)
    assert result.matched == ()
    assert result.mismatched == (Pair(movement, line),)
    assert result.missing == ()
    assert result.shortfall == {A: 10_000}
    assert not result.ok


def test_an_exact_line_wins_over_an_earlier_wrong_one() -> None:
    movement = Movement(DAY, A, "A-1", 100)
    lines = [_line(2, "6222-A", "A-1", 99), _line(3, "6222-A", "A-1", 100)]
    result = reconcile([movement], lines, ACCOUNTS)
    assert [p.line.line for p in result.matched] == [3]
    assert result.mismatched == ()
    assert [line.line for line in result.unexpected] == [2]
    assert result.shortfall == {}


def test_matching_statement_is_ok() -> None:
    expected = [Movement(DAY, A, f"A-{n}", n * 100 - 250) for n in range(1, 12)]
    lines = [_line(n + 1, "6222-A", m.reference, m.amount) for n, m in enumerate(expected)]
    result = reconcile(expected, lines, ACCOUNTS)
    assert result.ok
    assert len(result.matched) == 11
    assert result.to_dict()["ok"] is True


@given(st.permutations(EXPECTED), st.permutations(LINES))
def test_order_of_the_inputs_does_not_matter(
    expected: list[Movement], lines: list[StatementLine]
) -> None:
    assert reconcile(expected, lines, ACCOUNTS) == reconcile(EXPECTED, LINES, ACCOUNTS)


def test_empty_inputs() -> None:
    assert reconcile([], [], {}).ok
    # A statement that says nothing about A cannot find A short: A is named, not judged.
    result = reconcile([Movement(DAY, A, "A-1", 1)], [], ACCOUNTS)
    assert result.shortfall == {}
    assert result.not_on_statement == (A,)
    assert result.unlisted == (Movement(DAY, A, "A-1", 1),)


def test_a_partial_statement_judges_only_the_merchants_it_speaks_to() -> None:
    expected = [
        Movement(DAY, A, "A-1", 3_000),
        Movement(DAY, A, "A-2", 1_500),  # missing from A's own statement: A is short
        Movement(DAY, B, "B-1", 2_000),  # B's account is not on this statement
        Movement(DAY, C, "C-1", 900),  # nor is C's
    ]
    result = reconcile(expected, [_line(2, "6222-A", "A-1", 3_000)], ACCOUNTS)
    assert result.shortfall == {A: 1_500}
    assert [m.reference for m in result.missing] == ["A-2"]
    assert result.not_on_statement == (B, C)
    assert [m.reference for m in result.unlisted] == ["B-1", "C-1"]
    assert result.to_dict()["not_on_statement"] == [str(B), str(C)]


def test_to_dict_is_plain_data() -> None:
    result = reconcile(EXPECTED, LINES, ACCOUNTS).to_dict()
    assert result["ok"] is False
    assert result["shortfall"] == {str(A): 1_600, str(B): 7_000}
    assert result["matched"][0] == {
        "expected": {
            "day": "2026-03-02",
            "merchant_id": str(A),
            "reference": "A-1",
            "amount": 30_000,
        },
        "line": {
            "line": 2,
            "day": "2026-03-02",
            "account": "6222-A",
            "reference": "A-1",
            "amount": 30_000,
        },
    }
    assert result["missing"][0]["reference"] == "A-4"
    assert [line["line"] for line in result["unexpected"]] == [6, 8, 9]
    assert result["unknown_accounts"] == ["9999-X"]


@given(
    amounts=st.lists(st.integers(-(10**9), 10**9), min_size=1, max_size=20),
    dropped=st.sets(st.integers(0, 19)),
)
def test_shortfall_is_what_the_statement_lacks(amounts: list[int], dropped: set[int]) -> None:
    expected = [Movement(DAY, A, f"A-{n}", amount) for n, amount in enumerate(amounts)]
    lines = [
        _line(n + 2, "6222-A", m.reference, m.amount)
        for n, m in enumerate(expected)
        if n not in dropped
    ]
    result = reconcile(expected, lines, ACCOUNTS)
    if not lines:  # a statement without A's account says nothing about A
        assert (result.shortfall, result.missing, result.not_on_statement) == ({}, (), (A,))
        return
    lacking = sum(amount for n, amount in enumerate(amounts) if n in dropped)
    assert result.shortfall == ({A: lacking} if lacking > 0 else {})
    assert len(result.matched) + len(result.missing) == len(expected)
    assert result.unexpected == ()


def test_reference_format() -> None:
    merchant = uuid.UUID("0123456789ab4def8123456789abcdef")
    assert reference(merchant, 42) == "PG-0123456789ab-42"
