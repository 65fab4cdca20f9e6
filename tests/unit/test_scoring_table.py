"""Reading labelled CSVs: kinds detected, missing values explicit, bad files refused clearly."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scoring import BadData, read_scored_table, read_table
from tests.unit.scoring_data import GERMAN_CREDIT, synthetic, write_csv


def test_german_credit_columns_and_label() -> None:
    table = read_table(GERMAN_CREDIT, label="creditability", positive="bad")
    assert (table.rows, table.positives) == (1000, 300)
    kinds = {c.name: c.kind for c in table.schema.columns}
    assert len(kinds) == 20
    assert "creditability" not in kinds
    assert kinds["duration_in_month"] == "numeric"
    assert kinds["purpose"] == "categorical"
    assert table.summary()["columns"] == kinds


def test_missing_values_stay_missing_never_zero(tmp_path) -> None:
    path = write_csv(
        tmp_path / "m.csv",
        ["amount", "city", "bad"],
        [[1.5, "a", 1], ["", "", 0], ["NA", "b", 0], [0, "a", 1]],
    )
    table = read_table(path, label="bad")
    amount, city = table.schema.columns
    assert amount.kind == "numeric"
    assert city.kind == "categorical"
    assert city.categories == ("a", "b")
    assert math.isnan(table.features[1, 0])
    assert math.isnan(table.features[2, 0])
    assert table.features[3, 0] == 0.0
    assert table.features[1, 1] == city.missing_code != city.categories.index("a")
    assert table.schema.positive == "1"
    assert table.label.tolist() == [1, 0, 0, 1]


def test_unseen_category_at_scoring_time_gets_the_other_code(tmp_path) -> None:
    schema = read_table(synthetic(tmp_path / "s.csv"), label="defaulted", positive="yes").schema
    new = write_csv(
        tmp_path / "n.csv",
        ["defaulted", "district", "headcount", "tax_arrears", "extra"],
        [["yes", "拱墅区", 3, 1.0, "x"], ["no", "西湖区", 4, 2.0, "y"]],
    )
    table = read_scored_table(new, schema)
    district = schema.columns[schema.names.index("district")]
    assert table.features[0, schema.names.index("district")] == district.other_code
    assert table.label.tolist() == [1, 0]


def _refused(path, label="bad", positive=None) -> str:
    with pytest.raises(BadData) as caught:
        read_table(path, label=label, positive=positive)
    return str(caught.value)


def test_missing_file(tmp_path) -> None:
    assert "no such file" in _refused(tmp_path / "absent.csv")


def test_empty_file(tmp_path) -> None:
    (tmp_path / "e.csv").write_text("")
    assert "is empty" in _refused(tmp_path / "e.csv")
    (tmp_path / "h.csv").write_text("a,bad\n")
    assert "no data rows" in _refused(tmp_path / "h.csv")


def test_missing_label_column(tmp_path) -> None:
    path = write_csv(tmp_path / "x.csv", ["a", "b"], [[1, 2], [3, 4]])
    message = _refused(path, label="outcome")
    assert "no label column 'outcome'" in message
    assert "'a', 'b'" in message


def test_single_class(tmp_path) -> None:
    path = write_csv(tmp_path / "x.csv", ["a", "bad"], [[1, "yes"], [2, "yes"]])
    assert "only one value" in _refused(path, positive="yes")


def test_unknown_positive_value(tmp_path) -> None:
    path = write_csv(tmp_path / "x.csv", ["a", "bad"], [[1, "yes"], [2, "no"]])
    message = _refused(path, positive="Yes")
    assert "'Yes' never occurs" in message
    assert "'no' (1), 'yes' (1)" in message
    assert "--positive" in _refused(path)


def test_row_with_wrong_number_of_fields_names_its_line(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b,bad\n1,2,0\n3,4,1\n5,6\n7,8,0\n")
    with pytest.raises(BadData) as caught:
        read_table(path, label="bad")
    assert caught.value.line == 4
    assert "line 4" in str(caught.value)
    assert "2 fields where the header has 3" in str(caught.value)


def test_line_numbers_count_quoted_newlines(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a,b,bad\n1,"two\nlines",0\n3,4\n')
    with pytest.raises(BadData) as caught:
        read_table(path, label="bad")
    assert caught.value.line == 4


def test_missing_label_value_names_its_line(tmp_path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,bad\n1,0\n2,\n3,1\n")
    with pytest.raises(BadData) as caught:
        read_table(path, label="bad")
    assert (caught.value.line, caught.value.column) == (3, "bad")


def test_not_a_csv(tmp_path) -> None:
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert "binary file" in _refused(tmp_path / "x.png")
    (tmp_path / "x.txt").write_bytes(b"a;bad\n1;0\n")
    assert "needs a label column" in _refused(tmp_path / "x.txt")
    (tmp_path / "l.csv").write_bytes(b"a,bad\n\xe9,0\n")
    assert "not UTF-8" in _refused(tmp_path / "l.csv")
    assert "directory" in _refused(tmp_path)


def test_duplicate_header_refused(tmp_path) -> None:
    (tmp_path / "d.csv").write_text("a,a,bad\n1,2,0\n")
    assert "repeats 'a'" in _refused(tmp_path / "d.csv")


def test_numeric_column_with_text_at_scoring_time(tmp_path) -> None:
    schema = read_table(synthetic(tmp_path / "s.csv"), label="defaulted", positive="yes").schema
    bad = write_csv(
        tmp_path / "b.csv",
        ["tax_arrears", "headcount", "district", "defaulted"],
        [[1, 2, "西湖区", "no"], ["lots", 3, "西湖区", "yes"]],
    )
    with pytest.raises(BadData) as caught:
        read_scored_table(bad, schema)
    assert (caught.value.line, caught.value.column) == (3, "tax_arrears")
    missing = write_csv(tmp_path / "m.csv", ["tax_arrears", "defaulted"], [[1, "no"], [2, "yes"]])
    with pytest.raises(BadData, match="'headcount', 'district'"):
        read_scored_table(missing, schema)


def test_features_are_float_matrix(tmp_path) -> None:
    table = read_table(synthetic(tmp_path / "s.csv"), label="defaulted", positive="yes")
    assert table.features.dtype == np.float64
    assert table.features.shape == (400, 3)
