"""One report, many files: XLSX (openpyxl), a print-ready PDF (reportlab), CSV, and JSON.

Every export renders the same :class:`~app.reports.tables.Report` (or dashboard
:class:`~app.reports.tables.Table`), so its figures are the page's to the fen.

* **XLSX**: a summary sheet (the key figures, the year before and the change), then one
  sheet a table, its header on the first row and its totals on the last. Money is yuan to the
  fen (``#,##0.00``), shares are percentages, words are in the reader's language.
* **PDF**: A4, the title, period and reach, the key figures, charts of complaints and money
  owed over twelve months and of merchants by grade, then every table. Chinese is set in
  reportlab's built-in ``STSong-Light`` CID font, as the counter posters are (:mod:`qr.render`).
* **CSV**: one table, UTF-8 with a byte-order mark (a spreadsheet then shows the Chinese);
  the header is the columns' stable keys, amounts are integer fen, shares basis points; an
  industry, rule or status also gets a ``<column>_name`` column in the reader's language.
* **JSON**: the report as the API gives it: codes and numbers, rows keyed by column.
"""

from __future__ import annotations

import csv
import functools
import io
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
from reportlab.platypus import Table as PdfTable

from app.clock import SHANGHAI
from app.i18n import month, when
from app.reports.district import GRADE_COLUMNS
from app.reports.tables import Column, Kind, Words
from app.risk import supervision
from app.spreadsheets import inert
from qr.render import CJK_FONT

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.reports.tables import Cell, Figure, Report, Table

_NAMED = {Kind.INDUSTRY, Kind.CODE}
"""Columns given by code in a CSV, with their words in a ``_name`` column beside."""
_PDF_TEXT = str.maketrans({"\u00b7": "\u30fb"})
"""STSong-Light maps no glyph to U+00B7; the GB2312 middle dot U+30FB looks the same."""
_HEADER_BG = "1F3A5F"
_INK = colors.HexColor("#1d2430")
_BAR = colors.HexColor("#0b5cad")
_OWED = colors.HexColor("#5b6576")
_NARROW = 2
"""A table of this many columns or fewer gives its first column more room."""


def filename(report: Report, extension: str) -> str:
    """``report-上城区-2026-Q4.xlsx``; the city's is ``report-city-…``."""
    return f"report-{report.district or 'city'}-{report.period.code}.{extension}"


# -- JSON -------------------------------------------------------------------------------------


def _table_json(table: Table) -> dict[str, Any]:
    keys = [c.key for c in table.columns]
    return {
        "key": table.key,
        "columns": [{"key": c.key, "kind": c.kind.value} for c in table.columns],
        "rows": table.as_dicts(),
        "total": None if table.total is None else dict(zip(keys, table.total, strict=True)),
    }


def as_json(report: Report) -> dict[str, Any]:
    """The report as the API answers it: periods, figures and tables by stable keys."""
    before = report.period.year_before()
    return {
        "period": report.period.code,
        "kind": report.period.kind,
        "starts": report.period.start.isoformat(),
        "ends": report.period.end.isoformat(),
        "as_of": report.as_of.isoformat(),
        "year_before": before.code,
        "district": report.district,
        "figures": {
            f.key: {
                "kind": f.kind.value,
                "value": f.value,
                "year_before": f.year_before,
                "change_bp": f.change_bp,
            }
            for f in report.figures
        },
        "tables": {t.key: _table_json(t) for t in report.tables},
        "industries": {code: {"zh": zh, "en": en} for code, (zh, en) in report.industries.items()},
    }


# -- CSV --------------------------------------------------------------------------------------


def _csv_cell(column: Column, value: Cell) -> str:
    if value is None:
        return ""
    if column.kind is Kind.PROBABILITY:
        return f"{float(value):.4f}"
    if column.kind is Kind.DAYS:
        return f"{float(value):g}"
    if column.kind is Kind.TEXT:
        return inert(str(value))
    return str(value)


def csv_bytes(table: Table, words: Words) -> bytes:
    """One table as CSV: stable keys, fen and basis points, names beside the codes."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    header: list[str] = []
    for column in table.columns:
        header.append(column.key)
        if column.kind in _NAMED:
            header.append(f"{column.key}_name")
    writer.writerow(header)
    lines = [*table.rows, *([table.total] if table.total is not None else [])]
    for number, row in enumerate(lines):
        cells: list[str] = []
        is_total = table.total is not None and number == len(lines) - 1
        for i, (column, value) in enumerate(zip(table.columns, row, strict=True)):
            shown = "total" if is_total and i == 0 else _csv_cell(column, value)
            cells.append(shown)
            if column.kind in _NAMED:
                cells.append("" if value is None else words.cell(column, value))
        writer.writerow(cells)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


# -- XLSX -------------------------------------------------------------------------------------

_FORMATS = {
    Kind.FEN: "#,##0.00",
    Kind.BP: "0.0%",
    Kind.CHANGE: "+0.0%;-0.0%;0.0%",
    Kind.DAYS: "0.0",
    Kind.COUNT: "#,##0",
    Kind.PROBABILITY: "0.0%",
    Kind.DAY: "yyyy-mm-dd",
}


def _sheet_value(kind: Kind, value: Cell, words: Words, prefix: str = "") -> object:
    """A cell as a sheet holds it: a number where it is one (yuan to the fen), else words."""
    if value is None:
        return None
    if kind is Kind.FEN:
        return Decimal(int(value)).scaleb(-2)
    if kind in (Kind.BP, Kind.CHANGE):
        return Decimal(int(value)).scaleb(-4)
    if kind in (Kind.COUNT, Kind.DAYS, Kind.PROBABILITY):
        return value
    if kind is Kind.DAY:
        return date.fromisoformat(str(value))
    return words.said(kind, value, prefix)


def _write(sheet: Any, row: int, values: Sequence[tuple[Kind, Cell, str]], words: Words) -> None:  # noqa: ANN401
    for col, (kind, value, prefix) in enumerate(values, start=1):
        cell = sheet.cell(row=row, column=col, value=_sheet_value(kind, value, words, prefix))
        if isinstance(cell.value, str):
            cell.data_type = "s"  # text stays text, even one that starts like a formula
        if kind in _FORMATS:
            cell.number_format = _FORMATS[kind]


def _heading(sheet: Any, row: int, titles: Sequence[str]) -> None:  # noqa: ANN401
    for col, title in enumerate(titles, start=1):
        cell = sheet.cell(row=row, column=col, value=title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor=_HEADER_BG)
        cell.alignment = Alignment(wrap_text=True, vertical="center")


def _widths(sheet: Any, widths: Sequence[int]) -> None:  # noqa: ANN401
    for col, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(col)].width = width


def sheet_name(title: str) -> str:
    """A title as a sheet name may be: 31 characters at most, no brackets, colons or slashes."""
    return "".join(" " if c in "[]:*?/\\" else c for c in title)[:31]


def xlsx_bytes(report: Report, words: Words) -> bytes:
    """The report as a workbook: the key figures, then one sheet a table."""
    book = Workbook()
    summary = book.active
    summary.title = sheet_name(words("rp_sheet_summary"))
    summary["A1"] = words("rp_title", reach=words.reach(report.district))
    summary["A1"].font = Font(bold=True, size=14)
    summary["A2"] = words.period(report.period)
    summary["A3"] = words("rp_as_of", moment=when(report.as_of, words.lang))
    _heading(
        summary,
        5,
        [
            words("rp_col_figure"),
            words.period(report.period),
            words.period(report.period.year_before()),
            words("rp_col_change"),
        ],
    )
    for row, figure in enumerate(report.figures, start=6):
        _write(
            summary,
            row,
            [
                (Kind.TEXT, words(f"rp_fig_{figure.key}"), ""),
                (figure.kind, figure.value, ""),
                (figure.kind, figure.year_before, ""),
                (Kind.CHANGE, figure.change_bp, ""),
            ],
            words,
        )
    _widths(summary, [28, 20, 20, 12])
    for table in report.tables:
        _table_sheet(book.create_sheet(sheet_name(words.title(table))), table, words)
    out = io.BytesIO()
    book.properties.title = words("rp_title", reach=words.reach(report.district))
    book.properties.creator = "Prepaid Guard"
    book.save(out)
    return out.getvalue()


def _table_sheet(sheet: Any, table: Table, words: Words) -> None:  # noqa: ANN401
    _heading(sheet, 1, [words.header(c) for c in table.columns])
    for row, cells in enumerate(table.rows, start=2):
        _write(
            sheet,
            row,
            [(c.kind, v, c.prefix) for c, v in zip(table.columns, cells, strict=True)],
            words,
        )
    if table.total is not None:
        last = len(table.rows) + 2
        _write(
            sheet,
            last,
            [(c.kind, v, c.prefix) for c, v in zip(table.columns, table.total, strict=True)],
            words,
        )
        sheet.cell(row=last, column=1, value=words("rp_total"))
        for col in range(1, len(table.columns) + 1):
            sheet.cell(row=last, column=col).font = Font(bold=True)
    sheet.freeze_panes = "A2"
    _widths(sheet, [24 if not c.kind.numeric else 16 for c in table.columns])


# -- PDF --------------------------------------------------------------------------------------


@functools.cache
def _font() -> str:
    """Register the built-in CID font once; its metrics ship inside reportlab."""
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    safe = text.translate(_PDF_TEXT).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return Paragraph(safe, style)


def _styles() -> dict[str, ParagraphStyle]:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=8.5, leading=11, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=4),
        "sub": ParagraphStyle("sub", parent=base, fontSize=10.5, leading=15, textColor=_OWED),
        "h2": ParagraphStyle(
            "h2", parent=base, fontSize=12, leading=16, spaceBefore=10, spaceAfter=4, keepWithNext=1
        ),
        "num": ParagraphStyle("num", parent=base, alignment=2),
    }


def _grid(data: list[list[Paragraph]], widths: Sequence[float], *, total: bool) -> PdfTable:
    table = PdfTable(data, colWidths=widths, repeatRows=1)
    style = [
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#" + _HEADER_BG)),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#dde2ea")),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if total:
        style.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#eef1f6")))
    table.setStyle(TableStyle(style))
    return table


def _header_style(styles: dict[str, ParagraphStyle], *, numeric: bool) -> ParagraphStyle:
    return ParagraphStyle(
        "head", parent=styles["num" if numeric else "base"], textColor=colors.white
    )


def _pdf_table(
    table: Table, words: Words, styles: dict[str, ParagraphStyle], width: float
) -> PdfTable:
    head = [
        _p(words.header(c), _header_style(styles, numeric=c.kind.numeric)) for c in table.columns
    ]
    data = [head]
    data.extend(
        [
            _p(words.cell(c, v), styles["num" if c.kind.numeric else "base"])
            for c, v in zip(table.columns, cells, strict=True)
        ]
        for cells in [*table.rows, *([table.total] if table.total is not None else [])]
    )
    if table.total is not None:
        data[-1][0] = _p(words("rp_total"), styles["base"])
    if not table.rows:
        data.append(
            [_p(words("rp_none"), styles["base"])] + [_p("", styles["base"])] * (len(head) - 1)
        )
    first = width * (0.6 if len(table.columns) <= _NARROW else 0.28)
    rest = (width - first) / max(len(table.columns) - 1, 1)
    return _grid(data, [first] + [rest] * (len(table.columns) - 1), total=table.total is not None)


def _bars(
    title: str,
    labels: Sequence[str],
    values: Sequence[int],
    fills: Sequence[colors.Color],
    width: float,
) -> Drawing:
    """A bar chart with its title, its labels in the CJK font."""
    font = _font()
    height = 62 * mm
    drawing = Drawing(width, height)
    drawing.add(
        String(
            0, height - 10, title.translate(_PDF_TEXT), fontName=font, fontSize=10, fillColor=_INK
        )
    )
    chart = VerticalBarChart()
    chart.x, chart.y = 34, 22
    chart.width, chart.height = width - 44, height - 44
    chart.data = [list(values)]
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.categoryAxis.categoryNames = [label.translate(_PDF_TEXT) for label in labels]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.barLabels.fontName = font
    chart.barLabels.fontSize = 6
    chart.barLabelFormat = "%d"
    chart.barLabels.nudge = 5
    for i, fill in enumerate(fills):
        chart.bars[(0, i)].fillColor = fill
        chart.bars[(0, i)].strokeColor = None
    drawing.add(chart)
    return drawing


def _charts(report: Report, words: Words, width: float) -> list[Drawing]:
    trend = report.table("trend")
    months = [month(date.fromisoformat(f"{row[0]}-01"), words.lang) for row in trend.rows]
    complaints = [int(row[1] or 0) for row in trend.rows]
    owed = [int(row[2] or 0) for row in trend.rows]
    grades = report.table("merchants_by_grade")
    total = grades.total or ()
    by_grade = [int(total[1 + i] or 0) for i in range(len(GRADE_COLUMNS))]
    return [
        _bars(words("rp_chart_complaints"), months, complaints, [_BAR] * len(months), width),
        _bars(
            words("rp_chart_outstanding"),
            months,
            [fen // 100 for fen in owed],
            [_OWED] * len(months),
            width,
        ),
        _bars(
            words("rp_chart_grades"),
            list(GRADE_COLUMNS),
            by_grade,
            [colors.HexColor(supervision.colour(g)) for g in GRADE_COLUMNS],
            width,
        ),
    ]


def _figure_rows(
    report: Report, words: Words, styles: dict[str, ParagraphStyle]
) -> list[list[Paragraph]]:
    rows = [
        [
            _p(words("rp_col_figure"), _header_style(styles, numeric=False)),
            _p(words.period(report.period), _header_style(styles, numeric=True)),
            _p(words.period(report.period.year_before()), _header_style(styles, numeric=True)),
            _p(words("rp_col_change"), _header_style(styles, numeric=True)),
        ]
    ]
    rows.extend(_figure_row(figure, words, styles) for figure in report.figures)
    return rows


def _figure_row(figure: Figure, words: Words, styles: dict[str, ParagraphStyle]) -> list[Paragraph]:
    num = styles["num"]
    return [
        _p(words(f"rp_fig_{figure.key}"), styles["base"]),
        _p(words.said(figure.kind, figure.value), num),
        _p(words.said(figure.kind, figure.year_before), num),
        _p(words.said(Kind.CHANGE, figure.change_bp), num),
    ]


def pdf_bytes(report: Report, words: Words) -> bytes:
    """The report as an A4 PDF to print: figures, three charts, every table."""
    styles = _styles()
    out = io.BytesIO()
    margin = 15 * mm
    title = words("rp_title", reach=words.reach(report.district))
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=margin,
        rightMargin=margin,
        topMargin=margin,
        bottomMargin=margin,
        title=f"{title} {report.period.code}",
        author="Prepaid Guard",
        creator="Prepaid Guard",
    )
    width = A4[0] - 2 * margin
    as_of = words("rp_as_of", moment=when(report.as_of, words.lang))
    story: list[Any] = [
        _p(title, styles["title"]),
        _p(
            f"{words.period(report.period)}  {as_of}",
            styles["sub"],
        ),
        Spacer(1, 4 * mm),
        _p(words("rp_figures"), styles["h2"]),
        _grid(_figure_rows(report, words, styles), [width * 0.4] + [width * 0.2] * 3, total=False),
    ]
    for chart in _charts(report, words, width):
        story += [Spacer(1, 4 * mm), chart]
    for table in report.tables:
        story += [_p(words.title(table), styles["h2"]), _pdf_table(table, words, styles, width)]
    story += [Spacer(1, 6 * mm), _p(words("rp_pdf_footer", zone=str(SHANGHAI)), styles["sub"])]
    doc.build(story)
    return out.getvalue()
