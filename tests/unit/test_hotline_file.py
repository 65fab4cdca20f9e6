"""Reading a 12345 work-order file and checking each row, before any database is involved."""

from __future__ import annotations

import json

import pytest

from app.cases.hotline import WorkOrder, _check, read_file
from app.exceptions import Invalid
from app.spreadsheets import inert

ROW = {
    "ticket_id": "HZ-1",
    "received_at": "2026-11-03T09:15:00",
    "caller_phone": "13800001234",
    "merchant_code": "",
    "merchant_name": "湖滨那家美发店",
    "text": "会员卡余额不让用",
    "category": "预付卡消费",
}


def test_csv_and_json_files_give_the_same_rows_with_their_lines() -> None:
    header = ",".join(ROW)
    csv_file = f"{header}\n{','.join(ROW.values())}\n\n{','.join(ROW.values())}\n"
    rows = read_file(("\ufeff" + csv_file).encode())
    assert [r.line for r in rows] == [2, 4]
    assert rows[0].values == ROW
    listed = read_file(json.dumps({"work_orders": [ROW, "not an object"]}).encode())
    assert [(r.line, r.values) for r in listed] == [(1, ROW), (2, {})]
    assert _check(listed[1]) == "missing ticket_id, received_at, caller_phone, text, category"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xff\xfe not text", "hotline-file-not-utf8"),
        (b"ticket_id,text\nHZ-1,x\n", "hotline-file-columns"),
        (b"{not json", "hotline-file-not-json"),
        (b'{"work_orders": 3}', "hotline-file-not-json"),
        (
            ("ticket_id,received_at,caller_phone,text,category\n" + '"' + "x" * 200_000).encode(),
            "hotline-file-unreadable",
        ),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_whole(data: bytes, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        read_file(data)
    assert refused.value.code == code


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"ticket_id": "HZ 1"}, "ticket_id is not"),
        ({"received_at": "yesterday"}, "is not an ISO date"),
        ({"received_at": "2999-01-01T00:00:00+08:00"}, "in the future"),
        ({"caller_phone": "12345"}, "caller_phone is not a mainland mobile number"),
        ({"merchant_code": "91330102MA2XXXXX0Q"}, "merchant_code:"),
        ({"merchant_name": ""}, "neither merchant_code nor merchant_name"),
        ({"district": "区" * 65}, "district is longer than 64"),
    ],
)
def test_each_bad_row_says_why(change: dict[str, str], reason: str) -> None:
    assert _check(WorkOrder(2, ROW)) is None
    said = _check(WorkOrder(2, {**ROW, **change}))
    assert said is not None
    assert reason in said


def test_text_a_spreadsheet_would_run_stays_text() -> None:
    assert inert('=HYPERLINK("http://x")') == '\'=HYPERLINK("http://x")'
    assert inert("+86 138") == "'+86 138"
    assert inert("-1") == "'-1"
    assert inert("@SUM(A1)") == "'@SUM(A1)"
    assert inert("杭州示范健身") == "杭州示范健身"
