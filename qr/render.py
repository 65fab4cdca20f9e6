"""QR images: PNG and SVG of a code, and the merchant's counter poster as SVG or print PDF.

Every image is drawn from one module matrix, so PNG, SVG and PDF of the same data are the
same code. Posters name the merchant in large type beside the QR, because the consumer must
see who they are paying before they scan. A poster stays on the counter for months: it prints
nothing that changes (the grade, the custody ratio) and sends the consumer to the scanned page,
which shows them live. Chinese text uses reportlab's
built-in ``STSong-Light`` CID font: no font file to ship, nothing downloaded at run time.
"""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal
from xml.sax.saxutils import escape, quoteattr

import qrcode
import qrcode.constants
import qrcode.exceptions
from PIL import Image
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A5, A6
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

if TYPE_CHECKING:
    from collections.abc import Sequence

ErrorCorrection = Literal["L", "M", "Q", "H"]
PageSize = Literal["A5", "A6"]

_LEVELS = {
    "L": qrcode.constants.ERROR_CORRECT_L,
    "M": qrcode.constants.ERROR_CORRECT_M,
    "Q": qrcode.constants.ERROR_CORRECT_Q,
    "H": qrcode.constants.ERROR_CORRECT_H,
}
_PAGES: dict[str, tuple[float, float]] = {"A5": A5, "A6": A6}

_QR_BORDER = 4
"""Quiet zone around a poster's QR, in modules: the standard's minimum."""

POSTER_LEVEL: ErrorCorrection = "Q"
"""Printed codes get scratched and dirty; Q still reads with a quarter of it gone."""

CJK_FONT = "STSong-Light"
LATIN_BOLD_FONT = "Helvetica-Bold"

LIVE_GRADE = "扫码查看实时风险评级"
"""Where a printed grade would go: a grade printed today is wrong after tomorrow's downgrade."""
PROTECTION = "预付款 100% 保障：银行存管 + 履约保证保险"
"""The promise, without the ratio (it follows the grade; the scanned page shows today's)."""
DEFAULT_SUBTITLE = "扫码核验商户，查看资金保障与购卡"
FOOTER = "付款前请核对页面显示的商户名称 · Prepaid Guard"
HEADER = "预付卡资金保障"

_INK = "#000000"
_PAPER = "#ffffff"
_HEADER_BG = "#1f3a5f"
_MUTED = "#555555"
_PDF_TEXT = str.maketrans({"\u00b7": "\u30fb"})
"""STSong-Light maps no glyph to U+00B7; the GB2312 middle dot U+30FB looks the same."""
_SVG_FONTS = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"


# The matrix ----------------------------------------------------------------------------------


def _modules(data: str, level: ErrorCorrection) -> list[list[bool]]:
    """Dark (True) and light modules of the smallest QR holding ``data``, without border."""
    code = qrcode.QRCode(error_correction=_LEVELS[level], border=0)
    code.add_data(data)
    try:
        code.make(fit=True)
    except (qrcode.exceptions.DataOverflowError, ValueError) as exc:  # ValueError: past v40
        msg = f"{len(data)} characters do not fit in a QR code"
        raise ValueError(msg) from exc
    return [[bool(cell) for cell in row] for row in code.get_matrix()]


def _check_sizes(box_size: int, border: int) -> None:
    if box_size < 1 or border < 0:
        msg = "box_size must be at least 1 and border at least 0 (4 is the standard)"
        raise ValueError(msg)


def _runs(modules: Sequence[Sequence[bool]]) -> list[tuple[int, int, int]]:
    """``(x, y, length)`` of each horizontal run of dark modules: fewer, seamless shapes."""
    runs: list[tuple[int, int, int]] = []
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if row[x]:
                start = x
                while x < len(row) and row[x]:
                    x += 1
                runs.append((start, y, x - start))
            else:
                x += 1
    return runs


# PNG and SVG ---------------------------------------------------------------------------------


def png(data: str, *, box_size: int = 10, border: int = 4, level: ErrorCorrection = "M") -> bytes:
    """A black-on-white 1-bit PNG of the QR for ``data``; ``border`` is in modules."""
    _check_sizes(box_size, border)
    modules = _modules(data, level)
    side = len(modules) + 2 * border
    image = Image.new("1", (side, side), 1)
    for x, y, length in _runs(modules):
        for dx in range(length):
            image.putpixel((border + x + dx, border + y), 0)
    image = image.resize((side * box_size, side * box_size), Image.Resampling.NEAREST)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _qr_svg(modules: Sequence[Sequence[bool]], border: int, attributes: str) -> str:
    """One ``<svg>`` element in module units: white ground, one path of dark runs."""
    side = len(modules) + 2 * border
    path = "".join(f"M{border + x} {border + y}h{n}v1h-{n}z" for x, y, n in _runs(modules))
    return (
        f'<svg {attributes} viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="{_PAPER}"/>'
        f'<path fill="{_INK}" d="{path}"/>'
        "</svg>"
    )


def svg(data: str, *, box_size: int = 10, border: int = 4, level: ErrorCorrection = "M") -> str:
    """A standalone SVG document of the QR for ``data`` (scales without blur when printed)."""
    _check_sizes(box_size, border)
    modules = _modules(data, level)
    pixels = (len(modules) + 2 * border) * box_size
    attributes = f'xmlns="http://www.w3.org/2000/svg" width="{pixels}" height="{pixels}"'
    return _qr_svg(modules, border, attributes) + "\n"


# Posters -------------------------------------------------------------------------------------


@functools.cache
def _cjk_font() -> str:
    """Register the built-in CID font once; its metrics ship inside reportlab."""
    pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    return CJK_FONT


def _width(text: str, font: str, size: float) -> float:
    return float(pdfmetrics.stringWidth(text.translate(_PDF_TEXT), font, size))


@dataclass(frozen=True, slots=True)
class _Text:
    """One line of text, centred on the page; ``y`` is its baseline from the top."""

    text: str
    y: float
    size: float
    font: str
    color: str


@dataclass(frozen=True, slots=True)
class _Box:
    x: float
    y: float
    width: float
    height: float
    color: str
    radius: float = 0


@dataclass(frozen=True, slots=True)
class _Poster:
    """The poster laid out once, in points from the top-left, then drawn as PDF or SVG."""

    name: str
    width: float
    height: float
    boxes: tuple[_Box, ...]
    texts: tuple[_Text, ...]
    qr: _Box
    modules: list[list[bool]]


def _clean(text: str) -> str:
    """One line of printable text: names come from forms, and XML refuses control characters."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _fit(
    text: str, font: str, width: float, largest: float, smallest: float
) -> tuple[float, list[str]]:
    """Font size and at most two lines so ``text`` fits ``width``; CJK wraps at any character."""
    size = largest
    while size > smallest and _width(text, font, size) > width:
        size -= 0.5
    if _width(text, font, size) <= width:
        return size, [text]
    lines = [""]
    for char in text:
        if _width(lines[-1] + char, font, size) > width and lines[-1]:
            lines.append("")
        lines[-1] += char
    if len(lines) > 2:  # noqa: PLR2004 - a name runs over two lines at most
        last = lines[1]
        while last and _width(last + "…", font, size) > width:
            last = last[:-1]
        lines = [lines[0], last + "…"]
    return size, [line.strip() for line in lines]


def _layout(data: str, merchant_name: str, subtitle: str | None, page_size: PageSize) -> _Poster:
    name = _clean(merchant_name)
    if not name:
        msg = "merchant_name is empty"
        raise ValueError(msg)
    if page_size not in _PAGES:
        msg = f"page_size must be one of {', '.join(_PAGES)}"
        raise ValueError(msg)
    width, height = _PAGES[page_size]
    unit = width / A6[0]  # every measure below is for A6 and scales with the page
    font = _cjk_font()
    margin = 20 * unit
    inner = width - 2 * margin
    boxes: list[_Box] = [_Box(0, 0, width, 40 * unit, _HEADER_BG)]
    texts: list[_Text] = [_Text(HEADER, 26 * unit, 15 * unit, font, _PAPER)]

    size, lines = _fit(name, font, inner, 22 * unit, 12 * unit)
    y = 40 * unit + 10 * unit
    for line in lines:
        y += size
        texts.append(_Text(line, y, size, font, _INK))
        y += size * 0.25
    y += 6 * unit

    badge_width = _width(LIVE_GRADE, font, 12 * unit) + 24 * unit
    badge = _Box((width - badge_width) / 2, y, badge_width, 22 * unit, _HEADER_BG, 4 * unit)
    boxes.append(badge)
    texts.append(_Text(LIVE_GRADE, y + 15.5 * unit, 12 * unit, font, _PAPER))
    y += 22 * unit + 4 * unit

    bottom = [
        (PROTECTION, 11 * unit, _INK),
        (DEFAULT_SUBTITLE if subtitle is None else _clean(subtitle), 8.5 * unit, _MUTED),
        (FOOTER, 6.5 * unit, _MUTED),
    ]
    bottom_height = sum(s * 1.45 for _, s, _ in bottom)
    qr_side = min(inner, height - margin - bottom_height - y)
    qr = _Box((width - qr_side) / 2, y, qr_side, qr_side, _PAPER)
    y += qr_side
    for text, text_size, color in bottom:
        if text:
            fitted, _ = _fit(text, font, inner, text_size, text_size * 0.6)
            y += text_size * 1.45
            texts.append(_Text(text, y - text_size * 0.3, fitted, font, color))
    modules = _modules(data, POSTER_LEVEL)
    return _Poster(name, width, height, tuple(boxes), tuple(texts), qr, modules)


def poster_svg(
    data: str,
    merchant_name: str,
    *,
    subtitle: str | None = None,
    page_size: PageSize = "A6",
) -> str:
    """The counter poster as a standalone SVG at paper size; the QR is the element ``#qr``.

    Text is drawn in the viewer's CJK sans font, so for print prefer ``poster_pdf``, whose
    font is fixed.
    """
    poster = _layout(data, merchant_name, subtitle, page_size)
    mm = 72 / 25.4
    root = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{poster.width / mm:.1f}mm"'
        f' height="{poster.height / mm:.1f}mm"'
        f' viewBox="0 0 {poster.width:.2f} {poster.height:.2f}"'
        f" font-family={quoteattr(_SVG_FONTS)}>"
    )
    parts = [root, f'<rect width="100%" height="100%" fill="{_PAPER}"/>']
    parts.extend(
        f'<rect x="{b.x:.2f}" y="{b.y:.2f}" width="{b.width:.2f}" height="{b.height:.2f}"'
        f' rx="{b.radius:.2f}" fill="{b.color}"/>'
        for b in poster.boxes
    )
    parts.extend(
        f'<text x="{poster.width / 2:.2f}" y="{t.y:.2f}" font-size="{t.size:.2f}"'
        f' text-anchor="middle" fill="{t.color}">{escape(t.text)}</text>'
        for t in poster.texts
    )
    q = poster.qr
    attributes = (
        f'id="qr" x="{q.x:.2f}" y="{q.y:.2f}" width="{q.width:.2f}" height="{q.height:.2f}"'
    )
    parts.append(_qr_svg(poster.modules, _QR_BORDER, attributes))
    parts.append("</svg>\n")
    return "\n".join(parts)


def poster_pdf(
    data: str,
    merchant_name: str,
    *,
    subtitle: str | None = None,
    page_size: PageSize = "A6",
    compress: bool = True,
) -> bytes:
    """The counter poster as a one-page print-ready PDF (A6 by default), QR drawn as vectors.

    ``compress=False`` leaves the page content readable, for inspection.
    """
    poster = _layout(data, merchant_name, subtitle, page_size)
    out = io.BytesIO()
    canvas = Canvas(out, pagesize=(poster.width, poster.height), pageCompression=int(compress))
    canvas.setTitle(f"{poster.name} · Prepaid Guard")
    canvas.setAuthor("Prepaid Guard")
    canvas.setCreator("Prepaid Guard")
    top = poster.height
    for box in poster.boxes:
        canvas.setFillColor(HexColor(box.color))
        bottom = top - box.y - box.height
        if box.radius:
            canvas.roundRect(box.x, bottom, box.width, box.height, box.radius, stroke=0, fill=1)
        else:
            canvas.rect(box.x, bottom, box.width, box.height, stroke=0, fill=1)
    for text in poster.texts:
        canvas.setFillColor(HexColor(text.color))
        canvas.setFont(text.font, text.size)
        canvas.drawCentredString(poster.width / 2, top - text.y, text.text.translate(_PDF_TEXT))
    q = poster.qr
    side = len(poster.modules) + 2 * _QR_BORDER
    module = q.width / side
    canvas.setFillColor(HexColor(_PAPER))
    canvas.rect(q.x, top - q.y - q.height, q.width, q.height, stroke=0, fill=1)
    path = canvas.beginPath()  # one path: adjacent modules fill without hairline seams
    for x, y, length in _runs(poster.modules):
        left = q.x + (_QR_BORDER + x) * module
        upper = top - q.y - (_QR_BORDER + y) * module
        path.rect(left, upper - module, length * module, module)
    canvas.setFillColor(HexColor(_INK))
    canvas.drawPath(path, stroke=0, fill=1)
    canvas.showPage()
    canvas.save()
    return out.getvalue()
