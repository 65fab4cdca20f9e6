"""QR images read back by a real decoder (zxing-cpp), and posters read back by pypdf.

A code that only our own code can read proves nothing, so every image here goes through
zxing-cpp, the decoder behind many phone scanners, and must give back exactly the URL.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pypdf
import pytest
import zxingcpp
from PIL import Image

import qr
from qr import render

if TYPE_CHECKING:
    from pathlib import Path

BASE = "https://pguard.example.cn"
MERCHANT = uuid.UUID("3f2b8c1e-5d4a-4b6f-9e21-7c0d8a9b1e42")
NAME = "老王理发店（朝阳门店）"
NOW = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"
MM = 72 / 25.4

KEY = qr.generate_key("k1")
RING = qr.KeyRing([KEY.record()]).with_signer(KEY.kid, KEY.private_key)
URL = qr.counter_url(BASE, MERCHANT, RING)


def _decode(image: Image.Image) -> list[str]:
    # Look for QR codes only, as a phone's QR scanner does: with every format enabled, the
    # poster's large type was now and then read as a (false) 1D barcode.
    results = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [r.text for r in results]


def _decode_png(data: bytes) -> list[str]:
    return _decode(Image.open(io.BytesIO(data)))


_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-\3z")


def _raster(element: ET.Element, scale: int = 6) -> Image.Image:
    """Paint an SVG QR element (white ground, one path of runs) onto a bitmap, independently."""
    _, _, width, height = (int(v) for v in element.attrib["viewBox"].split())
    assert width == height
    assert element.find(f"{SVG}rect") is not None
    path = element.find(f"{SVG}path")
    assert path is not None
    assert path.attrib["fill"] == "#000000"
    d = path.attrib["d"]
    assert re.fullmatch(rf"(?:{_RUN.pattern})+", d), "path holds only module runs"
    image = Image.new("L", (width, height), 255)
    for x, y, length in _RUN.findall(d):
        for dx in range(int(length)):
            image.putpixel((int(x) + dx, int(y)), 0)
    return image.resize((width * scale, height * scale), Image.Resampling.NEAREST)


# PNG -----------------------------------------------------------------------------------------


def test_png_decodes_to_exactly_the_url_and_the_url_verifies() -> None:
    data = qr.png(URL)
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    (decoded,) = _decode_png(data)
    assert decoded == URL
    qr.verify_counter(qr.parse_counter_url(decoded, base_url=BASE), RING)


def test_png_size_follows_box_size_and_border() -> None:
    small = Image.open(io.BytesIO(qr.png(URL, box_size=3, border=4)))
    large = Image.open(io.BytesIO(qr.png(URL, box_size=10, border=4)))
    modules = small.width // 3 - 8
    assert small.size == (3 * (modules + 8),) * 2
    assert large.size == (10 * (modules + 8),) * 2
    assert (modules - 17) % 4 == 0  # a real QR version: 21, 25, 29, ... modules a side
    assert _decode(large) == [URL]
    with pytest.raises(ValueError, match="box_size"):
        qr.png(URL, box_size=0)


def test_tampered_url_rendered_and_scanned_is_refused() -> None:
    other = qr.counter_url(BASE, uuid.uuid4(), RING)
    tampered = URL.rpartition("&s=")[0] + "&s=" + other.rpartition("&s=")[2]
    (decoded,) = _decode_png(qr.png(tampered))
    assert decoded == tampered
    with pytest.raises(qr.BadSignature):
        qr.verify_counter(qr.parse_counter_url(decoded), RING)


def test_redemption_token_png_scans_back_to_a_valid_claim() -> None:
    token = qr.issue_redemption_token(
        uuid.uuid4(), MERCHANT, qr.redemption_nonce(), NOW + timedelta(minutes=2), RING
    )
    (decoded,) = _decode_png(qr.png(token, box_size=4))
    assert decoded == token
    assert qr.read_redemption_token(decoded, RING, NOW).merchant_id == MERCHANT


def test_data_too_long_for_any_qr_code_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="do not fit"):
        qr.png("x" * 5000)


# SVG -----------------------------------------------------------------------------------------


def test_svg_is_a_standalone_document_holding_the_same_code() -> None:
    text = qr.svg(URL)
    root = ET.fromstring(text)  # noqa: S314 - our own output
    assert root.tag == f"{SVG}svg"
    assert root.attrib["width"] == root.attrib["height"]
    assert _decode(_raster(root)) == [URL]
    # the same matrix as the PNG: one code, whatever the format
    png = Image.open(io.BytesIO(qr.png(URL, box_size=1))).convert("L")
    assert png.tobytes() == _raster(root, scale=1).tobytes()


def test_poster_svg_names_the_merchant_and_holds_the_code_but_no_grade() -> None:
    name = 'A&B <健身> "店"'
    root = ET.fromstring(qr.poster_svg(URL, name))  # noqa: S314
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert name in texts
    # a poster outlives a grade and a custody ratio: it sends the consumer to the live page
    assert render.LIVE_GRADE in texts
    assert render.PROTECTION in texts
    assert not [t for t in texts if t and any(f"评级 {g}" in t for g in "ABCDE")]
    assert render.DEFAULT_SUBTITLE in texts
    assert root.attrib["width"] == "105.0mm"
    code = root.find(f"{SVG}svg[@id='qr']")
    assert code is not None
    assert _decode(_raster(code)) == [URL]


def test_control_characters_in_a_name_cannot_break_the_svg() -> None:
    root = ET.fromstring(qr.poster_svg(URL, "老王\x00理发\n店\x1b"))  # noqa: S314
    assert "老王 理发 店" in [t.text for t in root.iter(f"{SVG}text")]
    with pytest.raises(ValueError, match="empty"):
        qr.poster_svg(URL, " \t\x00")


# PDF -----------------------------------------------------------------------------------------


def _pdf_text(pdf: bytes) -> tuple[pypdf.PageObject, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    # STSong-Light has no U+00B7, so the PDF draws the GB2312 middle dot U+30FB instead
    return page, page.extract_text().replace("\u30fb", "·")


def test_poster_pdf_is_an_a6_page_with_the_name_and_the_live_grade_note() -> None:
    pdf = qr.poster_pdf(URL, NAME)
    assert pdf.startswith(b"%PDF-")
    page, text = _pdf_text(pdf)
    assert float(page.mediabox.width) == pytest.approx(105 * MM, abs=0.5)
    assert float(page.mediabox.height) == pytest.approx(148 * MM, abs=0.5)
    lines = [line.strip() for line in text.splitlines()]
    assert NAME in lines
    assert render.LIVE_GRADE in lines
    assert render.PROTECTION in lines
    assert b"/STSong-Light" in pdf
    assert b"/FontFile" not in pdf  # a built-in CID font: no font file shipped or embedded


def test_poster_pdf_a5_with_its_own_subtitle() -> None:
    page, text = _pdf_text(qr.poster_pdf(URL, NAME, subtitle="扫码购卡", page_size="A5"))
    assert float(page.mediabox.width) == pytest.approx(148 * MM, abs=0.5)
    assert "扫码购卡" in text
    assert render.DEFAULT_SUBTITLE not in text
    assert render.LIVE_GRADE in text


def test_long_name_wraps_onto_two_lines_and_never_more() -> None:
    name = "北京市朝阳区某某健身俱乐部有限公司第一分公司国贸旗舰店" * 3
    _, text = _pdf_text(qr.poster_pdf(URL, name))
    lines = [line.strip() for line in text.splitlines()]
    name_lines = [line for line in lines if line and line.rstrip("…") in name]
    assert len(name_lines) == 2
    assert name_lines[1].endswith("…")
    shown = name_lines[0] + name_lines[1].removesuffix("…")
    assert name.startswith(shown)
    assert len(name) // 3 < len(shown) < len(name)


def test_uncompressed_pdf_shows_its_drawing_operators() -> None:
    plain = qr.poster_pdf(URL, NAME, compress=False)
    assert b"/FlateDecode" not in plain
    assert plain.count(b" re") > 100  # the QR is drawn as vector rectangles, not an image
    assert b"/Subtype /Image" not in plain
    assert b"/FlateDecode" in qr.poster_pdf(URL, NAME)


@pytest.mark.skipif(
    shutil.which("pdftoppm") is None,
    reason="pdftoppm (poppler-utils) is not installed: the printed QR is not rasterised here",
)
def test_printed_poster_scans_back_to_the_url(tmp_path: Path) -> None:
    pdf = tmp_path / "poster.pdf"
    pdf.write_bytes(qr.poster_pdf(URL, NAME))
    subprocess.run(
        ["pdftoppm", "-r", "150", "-png", "-singlefile", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    with Image.open(tmp_path / "page.png") as page:
        assert page.width == pytest.approx(105 / 25.4 * 150, abs=2)
        (decoded,) = _decode(page)
    assert decoded == URL
    qr.verify_counter(qr.parse_counter_url(decoded, base_url=BASE), RING)
