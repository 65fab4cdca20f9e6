"""Indicator rows checked before anything is stored: every malformed row says why, in words;
a good row becomes exactly one Indicator; a file that is not a CSV is refused with a code."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scoring import BadData, Indicator, Source
from scoring.intake import (
    MAX_PROVENANCE,
    Row,
    check_row,
    csv_digest,
    fingerprint,
    read_csv,
    stored_value,
    typed_value,
)
from scoring.synth import check_character

LATEST = date(2026, 6, 30)
CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CODE = "91330106MA2B3C4D5"
USCC = CODE + check_character(CODE)


def normalise(raw: str) -> str:
    return "".join(raw.split()).upper()


def code_problem(code: str) -> str | None:
    if len(code) != 18:
        return f"a unified social credit code has 18 characters, this one has {len(code)}"
    if any(ch not in CHARSET for ch in code):
        return "characters not allowed in a unified social credit code"
    if check_character(code[:17]) != code[17]:
        return "the check character does not match; please check the code for a typo"
    return None


def check(row: Row, source: str | None = None) -> Indicator | str:
    return check_row(
        row, source=source, latest=LATEST, normalise=normalise, code_problem=code_problem
    )


def row(**given: object) -> Row:
    fields: dict[str, object] = {
        "line": 2,
        "uscc": USCC,
        "source": "tax",
        "kind": "arrears_fen",
        "value": "120000",
        "as_of": "2026-06-01",
        "provenance": "tax bureau 2026-06",
    }
    fields.update(given)
    return Row(**fields)  # type: ignore[arg-type]


def test_a_good_csv_row_becomes_an_indicator_of_its_kind_s_type() -> None:
    found = check(row(uscc=" " + USCC.lower() + " "))
    assert found == Indicator(
        USCC, Source.TAX, "arrears_fen", 120_000.0, date(2026, 6, 1), "tax bureau 2026-06"
    )
    assert check(row(source="court", kind="dishonest_debtor", value="TRUE")) == Indicator(
        USCC, Source.COURT, "dishonest_debtor", True, date(2026, 6, 1), "tax bureau 2026-06"
    )


def test_json_values_are_taken_as_they_are() -> None:
    found = check(row(value=7))
    assert isinstance(found, Indicator)
    assert found.value == 7.0
    assert isinstance(check(row(source="bank", kind="frozen", value=False)), Indicator)


@pytest.mark.parametrize(
    ("given", "words"),
    [
        ({"kind": None}, "as many fields as the header"),
        ({"uscc": ""}, "code is missing"),
        ({"uscc": USCC[:17] + ("0" if USCC[17] != "0" else "1")}, "check character"),
        ({"source": "weather"}, "there is no source 'weather'"),
        ({"kind": "arrears"}, "no kind 'arrears'"),
        ({"value": "three", "kind": "filing_gap_months"}, "expects a number"),
        ({"as_of": ""}, "as_of is missing"),
        ({"as_of": "2026-02-30"}, "is not a date"),
        ({"as_of": (LATEST + timedelta(days=1)).isoformat()}, "in the future"),
        ({"provenance": "  "}, "provenance is missing"),
        ({"provenance": "x" * (MAX_PROVENANCE + 1)}, f"longer than {MAX_PROVENANCE}"),
        ({"value": None}, "is not a value"),
    ],
)
def test_each_malformed_row_says_why(given: dict[str, object], words: str) -> None:
    found = check(row(**given))
    assert isinstance(found, str)
    assert words in found


def test_a_file_s_rows_must_carry_its_source() -> None:
    assert "not this file's source 'court'" in str(check(row(), source="court"))
    assert isinstance(check(row(), source="tax"), Indicator)


@given(
    uscc=st.one_of(st.none(), st.text(max_size=20), st.integers()),
    source=st.one_of(st.none(), st.sampled_from([*Source, "x"]), st.integers()),
    kind=st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["arrears_fen", "frozen"])),
    value=st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=True), st.integers(), st.text(max_size=8)
    ),
    as_of=st.one_of(st.none(), st.text(max_size=12), st.dates().map(date.isoformat)),
    provenance=st.one_of(st.none(), st.text(max_size=20)),
)
def test_any_row_is_either_an_indicator_or_a_reason_never_an_exception(
    uscc: object, source: object, kind: object, value: object, as_of: object, provenance: object
) -> None:
    found = check(Row(1, uscc, source, kind, value, as_of, provenance))
    if isinstance(found, Indicator):
        assert found.as_of <= LATEST
        assert found.provenance.strip() == found.provenance
        assert code_problem(found.uscc) is None
    else:
        assert isinstance(found, str)
        assert found


def test_csv_files_are_read_row_by_row_with_their_line_numbers() -> None:
    data = (
        "\ufeffuscc,kind,value,as_of,provenance\n"
        f"{USCC},arrears_fen,1,2026-06-01,p\n"
        "\n"
        f"{USCC},filing_gap_months\n"
        f"{USCC},arrears_fen,2,2026-06-02,p\n"
    ).encode()
    rows = read_csv(data, "tax")
    assert [r.line for r in rows] == [2, 4, 5]
    assert rows[0] == Row(2, USCC, "tax", "arrears_fen", "1", "2026-06-01", "p")
    assert rows[1].kind is None  # too few cells: reported as malformed, with its line


@pytest.mark.parametrize(
    ("data", "code", "words"),
    [
        (b"\x00\x01", "indicator-file-binary", "binary file"),
        (b"uscc,kind\n1,2\n", "indicator-file-columns-missing", "value, as_of, provenance"),
        (b"uscc,kind,value,as_of,provenance\n", "indicator-file-empty", "no records"),
        (b"uscc,kind,value,as_of,provenance\n\xff\n", "indicator-file-not-utf8", "UTF-8"),
        (b'uscc,kind,value,as_of,provenance\n"a\n', "indicator-file-not-csv", "not valid CSV"),
    ],
)
def test_a_file_that_is_not_a_usable_csv_is_refused_with_a_code(
    data: bytes, code: str, words: str
) -> None:
    with pytest.raises(BadData) as refused:
        read_csv(data, "tax")
    assert refused.value.code == code
    assert words in str(refused.value)


def test_the_fingerprint_of_a_snapshot_leaves_the_value_out() -> None:
    first = Indicator(USCC, Source.SALES, "surge_pct", 10.0, LATEST, "platform:sales")
    moved = Indicator(USCC, Source.SALES, "surge_pct", 55.0, LATEST, "platform:sales")
    assert fingerprint(first) != fingerprint(moved)
    assert fingerprint(first, snapshot=True) == fingerprint(moved, snapshot=True)
    assert csv_digest(b"x", "tax") != csv_digest(b"x", "court")


@given(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.booleans(), st.text()))
def test_whole_numbers_are_stored_exactly_and_everything_else_as_it_is(
    value: float | bool | str,
) -> None:
    kept = stored_value(value)
    assert kept == value
    if isinstance(value, float) and value.is_integer():
        assert isinstance(kept, int)
    else:
        assert type(kept) is type(value)


def test_csv_cells_become_the_kind_s_type() -> None:
    assert typed_value("True", "bool") is True
    assert typed_value("no", "bool") == "no"
    assert typed_value("2.5", "number") == 2.5
    assert typed_value("B", "category") == "B"
    assert typed_value(3, "number") == 3
