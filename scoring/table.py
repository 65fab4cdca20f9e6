"""A labelled CSV read into a numeric feature matrix and a 0/1 label, with its column schema.

Column kinds are detected, not declared: a column is numeric when every value that is present
parses as a finite number, otherwise categorical. Missing values are kept explicit, never
turned into zero: a missing number stays NaN (the gradient boosting learns which way it goes)
and a missing category is its own code. Categories are coded by the schema found in training
data, so the same CSV columns always give the same matrix columns; a category unseen in
training (or beyond the most frequent ``MAX_CATEGORIES``) gets the reserved "other" code.

:func:`table_from_features` builds the same matrix from feature values held in memory (live
scoring), and :func:`reference_row` summarises a training table as one typical row (the
starting point from which a rating's reasons are measured).

It is over 500 lines on purpose: reading a CSV, coding live features and summarising a
reference row all hang on the one column schema, which is easier to keep right in one module.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from scoring.errors import BadData

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from numpy.typing import NDArray

Kind = Literal["numeric", "categorical"]

MISSING_TOKENS = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "?"})
"""Cell values read as missing. Not ``none``: it is a real category in many data sets."""

MAX_CATEGORIES = 64
"""Most frequent values kept per categorical column; the rest share the "other" code."""

MAX_BYTES = 200 * 1024 * 1024
"""Refuse files beyond this size: the data is held in memory."""


@dataclass(frozen=True)
class Column:
    """One feature column: its name, kind and (categorical) the values seen in training."""

    name: str
    kind: Kind
    categories: tuple[str, ...] = ()

    @property
    def missing_code(self) -> int:
        """Code of a missing categorical value: its own category, after the seen ones."""
        return len(self.categories)

    @property
    def other_code(self) -> int:
        """Code of a categorical value not seen in training (or too rare to keep)."""
        return len(self.categories) + 1

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model file's manifest."""
        return {"name": self.name, "kind": self.kind, "categories": list(self.categories)}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Column:
        """Rebuild from :meth:`to_dict` output (checked: manifests come from files)."""
        name, kind, categories = data["name"], data["kind"], data["categories"]
        if not isinstance(name, str) or kind not in ("numeric", "categorical"):
            raise TypeError("bad column entry")
        if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
            raise TypeError("bad column categories")
        return cls(name, "numeric" if kind == "numeric" else "categorical", tuple(categories))


@dataclass(frozen=True)
class Schema:
    """What a model was trained on: the label, its positive value and the feature columns."""

    label: str
    positive: str
    columns: tuple[Column, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """Feature column names in matrix order."""
        return tuple(c.name for c in self.columns)

    def to_dict(self) -> dict[str, object]:
        """Plain data for the model file's manifest."""
        return {
            "label": self.label,
            "positive": self.positive,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Schema:
        """Rebuild from :meth:`to_dict` output."""
        label, positive, columns = data["label"], data["positive"], data["columns"]
        if not isinstance(label, str) or not isinstance(positive, str):
            raise TypeError("bad schema")
        if not isinstance(columns, list):
            raise TypeError("bad schema columns")
        return cls(label, positive, tuple(Column.from_dict(c) for c in columns))


@dataclass(frozen=True)
class Table:
    """Features as a float matrix (categoricals as codes), the 0/1 label and the schema."""

    schema: Schema
    features: NDArray[np.float64]
    label: NDArray[np.int8]
    source: str

    @property
    def rows(self) -> int:
        """Number of data rows."""
        return int(self.label.shape[0])

    @property
    def positives(self) -> int:
        """Rows whose label is the positive (bad) value."""
        return int(self.label.sum())

    def subset(self, rows: NDArray[np.intp]) -> Table:
        """The same table restricted to some rows (cross-validation folds)."""
        return Table(self.schema, self.features[rows], self.label[rows], self.source)

    def summary(self) -> dict[str, object]:
        """Training data summary stored with a model: size, balance and column kinds."""
        return {
            "source": self.source,
            "rows": self.rows,
            "positives": self.positives,
            "label": self.schema.label,
            "positive": self.schema.positive,
            "columns": {c.name: c.kind for c in self.schema.columns},
        }


def read_table(path: Path, *, label: str, positive: str | None = None) -> Table:
    """Read a labelled CSV for training, detecting each column's kind from its values.

    ``positive`` names the label value that is the positive (bad, default) outcome; every other
    value is negative. Without it, a 0/1 label takes ``1`` as positive; any other label must
    say. Raises :class:`BadData` for anything that cannot be used.
    """
    header, rows = _read_csv(path)
    label_index = _label_index(header, label, path)
    labels = [row[label_index] for _, row in rows]
    chosen = _positive_value(labels, label, positive, rows, path)
    columns = []
    for index, name in enumerate(header):
        if index == label_index:
            continue
        values = [row[index] for _, row in rows]
        columns.append(_detect(name, values))
    schema = Schema(label, chosen, tuple(columns))
    return _build(schema, header, rows, label_index, str(path))


def read_scored_table(path: Path, schema: Schema) -> Table:
    """Read a labelled CSV against a trained model's schema (evaluation).

    Extra columns are ignored; a missing feature column, or a non-number in a numeric column,
    is refused with its line and column.
    """
    header, rows = _read_csv(path)
    label_index = _label_index(header, schema.label, path)
    labels = [row[label_index] for _, row in rows]
    _positive_value(labels, schema.label, schema.positive, rows, path)
    absent = [name for name in schema.names if name not in header]
    if absent:
        raise BadData(
            f"the model needs column(s) {', '.join(map(repr, absent))},"
            " which this CSV does not have",
            path=str(path),
            code="csv-columns-missing",
            columns=", ".join(absent),
        )
    return _build(schema, header, rows, label_index, str(path))


def _read_csv(path: Path) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Header and data rows (each with its line number), or :class:`BadData` saying why not."""
    reader = csv.reader(io.StringIO(_read_text(path), newline=""), strict=True)
    try:
        header = [name.strip() for name in next(reader)]
        rows: list[tuple[int, list[str]]] = []
        for row in reader:
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise BadData(
                    f"has {len(row)} fields where the header has {len(header)}",
                    path=str(path),
                    line=reader.line_num,
                    code="csv-row-fields",
                    fields=len(row),
                    header_fields=len(header),
                )
            rows.append((reader.line_num, [cell.strip() for cell in row]))
    except csv.Error as exc:
        raise BadData(
            f"not valid CSV ({exc})", path=str(path), line=reader.line_num, code="csv-malformed"
        ) from None
    _check_header(header, path)
    if not rows:
        raise BadData("has a header but no data rows", path=str(path), code="csv-no-rows")
    return header, rows


def _read_text(path: Path) -> str:
    """The file as text, refusing what is missing, too large, binary or not UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise BadData(
                f"{size} bytes is more than the {MAX_BYTES} this reads",
                path=str(path),
                code="csv-too-large",
                size=size,
                limit=MAX_BYTES,
            )
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadData("no such file", path=str(path), code="csv-missing") from None
    except IsADirectoryError:
        raise BadData(
            "is a directory, not a CSV file", path=str(path), code="csv-is-directory"
        ) from None
    except PermissionError:
        raise BadData(
            "not readable (permission denied)", path=str(path), code="csv-unreadable"
        ) from None
    if b"\x00" in raw:
        raise BadData(
            "is a binary file, not a CSV (text with a header line)",
            path=str(path),
            code="csv-binary",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadData(
            f"is not UTF-8 text (byte {exc.start}); save the CSV as UTF-8",
            path=str(path),
            code="csv-not-utf8",
            byte=exc.start,
        ) from None
    if not text.strip():
        raise BadData(
            "is empty; a CSV needs a header line and data rows", path=str(path), code="csv-empty"
        )
    return text


def _check_header(header: list[str], path: Path) -> None:
    if len(header) < 2:  # noqa: PLR2004 - a label and at least one feature
        raise BadData(
            f"the header has {len(header)} column; a labelled CSV needs a label column"
            " and at least one feature, separated by commas",
            path=str(path),
            code="csv-header-too-short",
            columns=len(header),
        )
    for position, name in enumerate(header, start=1):
        if not name:
            raise BadData(
                f"header column {position} has no name",
                path=str(path),
                line=1,
                code="csv-header-unnamed",
                position=position,
            )
    duplicates = sorted(name for name, n in Counter(header).items() if n > 1)
    if duplicates:
        raise BadData(
            f"the header repeats {', '.join(map(repr, duplicates))}",
            path=str(path),
            line=1,
            code="csv-header-repeats",
            names=", ".join(duplicates),
        )


def _label_index(header: list[str], label: str, path: Path) -> int:
    if label not in header:
        raise BadData(
            f"there is no label column {label!r}; the columns are " + ", ".join(map(repr, header)),
            path=str(path),
            code="csv-no-label-column",
            label=label,
            columns=", ".join(header),
        )
    return header.index(label)


def _positive_value(
    labels: list[str],
    label: str,
    positive: str | None,
    rows: Sequence[tuple[int, list[str]]],
    path: Path,
) -> str:
    for value, (line, _) in zip(labels, rows, strict=True):
        if value in MISSING_TOKENS:
            raise BadData(
                "the label is missing; every row needs one",
                path=str(path),
                line=line,
                column=label,
                code="csv-label-missing",
            )
    counts = Counter(labels)
    seen = ", ".join(f"{value!r} ({n})" for value, n in sorted(counts.items()))
    if len(counts) < 2:  # noqa: PLR2004 - a binary outcome needs both classes
        raise BadData(
            f"the label has only one value ({seen}); a model needs both outcomes",
            path=str(path),
            column=label,
            code="csv-label-one-value",
            values=seen,
        )
    if positive is None:
        if set(counts) == {"0", "1"}:
            return "1"
        raise BadData(
            f"the label's values are {seen}; name the positive (bad) outcome with --positive",
            path=str(path),
            column=label,
            code="csv-positive-needed",
            values=seen,
        )
    if positive not in counts:
        raise BadData(
            f"the positive value {positive!r} never occurs; the label's values are {seen}",
            path=str(path),
            column=label,
            code="csv-positive-absent",
            positive=positive,
            values=seen,
        )
    return positive


def _detect(name: str, values: list[str]) -> Column:
    present = [v for v in values if v not in MISSING_TOKENS]
    if present and all(_number(v) is not None for v in present):
        return Column(name, "numeric")
    counts = Counter(present)
    kept = sorted(counts, key=lambda v: (-counts[v], v))[:MAX_CATEGORIES]
    return Column(name, "categorical", tuple(sorted(kept)))


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _build(
    schema: Schema,
    header: list[str],
    rows: list[tuple[int, list[str]]],
    label_index: int,
    source: str,
) -> Table:
    features = np.empty((len(rows), len(schema.columns)), dtype=np.float64)
    for j, column in enumerate(schema.columns):
        index = header.index(column.name)
        codes = {value: float(code) for code, value in enumerate(column.categories)}
        for i, (line, row) in enumerate(rows):
            value = row[index]
            if column.kind == "numeric":
                if value in MISSING_TOKENS:
                    features[i, j] = math.nan
                    continue
                number = _number(value)
                if number is None:
                    raise BadData(
                        f"{value!r} is not a number, and the model reads this column as numeric",
                        path=source,
                        line=line,
                        column=column.name,
                        code="csv-not-a-number",
                        value=value,
                    )
                features[i, j] = number
            elif value in MISSING_TOKENS:
                features[i, j] = column.missing_code
            else:
                features[i, j] = codes.get(value, column.other_code)
    label = np.fromiter(
        (row[label_index] == schema.positive for _, row in rows), dtype=np.int8, count=len(rows)
    )
    return Table(schema, features, label, source)


ReferenceValue = float | str | None
"""A reference row's value: a number, a category, or ``None`` for missing."""


def table_from_features(
    schema: Schema, rows: Sequence[Mapping[str, object]], *, source: str = "features"
) -> Table:
    """The matrix ``schema`` gives for feature values held in memory, as if read from a CSV.

    Each value is read as :func:`read_scored_table` reads the same cell, so live scoring sees
    exactly what training saw: a number (``None``, NaN or a missing token is NaN); a category
    string looked up in the column's categories (unseen: the "other" code; the word ``missing``
    that training CSVs write is an ordinary category there); ``None``, NaN or a missing token
    for a category is its missing code. Keys beyond the schema are ignored; a schema column
    with no value is :class:`BadData`. The label is unknown, so zeros.
    """
    features = np.empty((len(rows), len(schema.columns)), dtype=np.float64)
    for j, column in enumerate(schema.columns):
        values = _column_values(rows, column.name, source)
        if column.kind == "numeric":
            features[:, j] = _numbers(values, column.name, source)
        else:
            features[:, j] = _codes(values, column, source)
    return Table(schema, features, np.zeros(len(rows), dtype=np.int8), source)


def category_codes(column: Column, values: Sequence[object]) -> NDArray[np.float64]:
    """The codes ``column`` gives ``values``, as :func:`table_from_features` codes a category."""
    return _codes(list(values), column, "features")


def reference_row(table: Table) -> dict[str, ReferenceValue]:
    """One typical row of a training table: each number's median, each category's mode.

    A numeric column's median ignores missing values (``None`` if every value is missing). A
    categorical column's most frequent value, ties going to the first in sorted order, is its
    category string, or ``None`` when missing is the most frequent; the "other" code names no
    single value, so it is never chosen.
    """
    reference: dict[str, ReferenceValue] = {}
    for j, column in enumerate(table.schema.columns):
        values = table.features[:, j]
        if column.kind == "numeric":
            present = values[~np.isnan(values)]
            reference[column.name] = float(np.median(present)) if present.size else None
            continue
        counts = np.bincount(values.astype(np.intp), minlength=column.other_code + 1)
        code = int(np.argmax(counts[: column.missing_code + 1]))
        reference[column.name] = column.categories[code] if code < column.missing_code else None
    return reference


def _column_values(rows: Sequence[Mapping[str, object]], name: str, source: str) -> list[object]:
    try:
        return [row[name] for row in rows]
    except KeyError:
        line = next(i for i, row in enumerate(rows) if name not in row)
        raise BadData(
            f"feature row {line} has no value for {name!r}, which the model reads",
            path=source,
            column=name,
            code="feature-value-missing",
            row=line,
        ) from None


def _numbers(values: list[object], name: str, source: str) -> NDArray[np.float64]:
    try:
        # The common case, floats with NaN or None for missing, in one conversion.
        numbers = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        numbers = np.fromiter(
            (_cell_number(v, i, name, source) for i, v in enumerate(values)),
            dtype=np.float64,
            count=len(values),
        )
    if numbers.ndim != 1:
        raise BadData(
            "holds a value that is not a number",
            path=source,
            column=name,
            code="feature-not-numbers",
        )
    infinite = np.flatnonzero(np.isinf(numbers))
    if infinite.size:
        i = int(infinite[0])
        raise BadData(
            f"feature row {i}: {values[i]!r} is not a finite number",
            path=source,
            column=name,
            code="feature-not-finite",
            row=i,
            value=repr(values[i]),
        )
    return numbers


def _cell_number(value: object, row: int, name: str, source: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, str):
        cell = value.strip()
        if cell in MISSING_TOKENS:
            return math.nan
        number = _number(cell)
    elif isinstance(value, (int, float)):
        number = float(value)
    else:
        number = None
    if number is None:
        raise BadData(
            f"feature row {row}: {value!r} is not a number, and the model reads this column"
            " as numeric",
            path=source,
            column=name,
            code="feature-not-a-number",
            row=row,
            value=repr(value),
        )
    return number


def _codes(values: list[object], column: Column, source: str) -> NDArray[np.float64]:
    # As in _build: a missing token is missing before it is looked up as a category.
    lookup = {value: code for code, value in enumerate(column.categories)}
    lookup.update((token, column.missing_code) for token in MISSING_TOKENS)
    other = column.other_code
    codes = [
        lookup.get(v, lookup.get(v.strip(), other))
        if isinstance(v, str)
        else _odd_category(v, i, column, source)
        for i, v in enumerate(values)
    ]
    return np.asarray(codes, dtype=np.float64)


def _odd_category(value: object, row: int, column: Column, source: str) -> int:
    """A non-string category: missing (``None`` or NaN) is its code; anything else is refused."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return column.missing_code
    raise BadData(
        f"feature row {row}: {value!r} is not a category; the model reads this column as"
        " categorical",
        path=source,
        column=column.name,
        code="feature-not-a-category",
        row=row,
        value=repr(value),
    )
