"""Counter codes over HTTP: images decoded by zxing-cpp, tampering refused, keys rotated."""

from __future__ import annotations

import base64
import io

import pypdf
import zxingcpp
from PIL import Image

from app.auth.models import Role
from tests.e2e.api import (
    STORED,
    Api,
    Counter,
    add_rating,
    buy_registered,
    complain,
    counter_of,
    reason,
    shop_with,
)


def _decode_png(data: bytes) -> str:
    # QR codes only, as a phone's scanner reads them: with every format enabled, zxing-cpp now
    # and then also reads a false Codabar out of the QR's own modules (about 1 in 300 codes).
    found = zxingcpp.read_barcodes(
        Image.open(io.BytesIO(data)), formats=zxingcpp.BarcodeFormat.QRCode
    )
    assert len(found) == 1
    return str(found[0].text)


def _flip_one_byte(signature: str) -> str:
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


async def test_counter_png_decodes_to_a_url_that_verifies(api: Api) -> None:
    shop = await api.active_merchant()
    response = await api.call("GET", "/merchants/me/qr.png", shop["token"])
    assert response.headers["content-type"] == "image/png"
    url = _decode_png(response.content)
    assert url == (await counter_of(api, shop["token"])).url
    profile = await api.call("GET", Counter(url).path)
    assert profile["merchant_id"] == shop["merchant"]["id"]


async def test_svg_and_poster_downloads(api: Api) -> None:
    shop = await api.active_merchant()
    svg = await api.call("GET", "/merchants/me/qr.svg", shop["token"])
    assert svg.text.lstrip().startswith("<svg") or svg.text.lstrip().startswith("<?xml")
    poster = await api.call("GET", "/merchants/me/poster.pdf", shop["token"])
    assert poster.headers["content-type"] == "application/pdf"
    text = pypdf.PdfReader(io.BytesIO(poster.content)).pages[0].extract_text()
    assert shop["merchant"]["legal_name"] in text
    assert "扫码查看实时风险评级" in text
    assert "30%" not in text  # the ratio follows the grade: the scanned page shows today's
    consumer = await api.consumer()
    await api.call("GET", "/merchants/me/poster.pdf", consumer, expect=403)
    await api.call("GET", "/merchants/me/qr.png", expect=401)


async def test_tampered_codes_are_refused_with_a_reason(api: Api) -> None:
    a = await api.active_merchant()
    b = await api.active_merchant()
    ca, cb = await counter_of(api, a["token"]), await counter_of(api, b["token"])
    cases = [
        (f"/q/{ca.merchant_id}?k={ca.k}&s={_flip_one_byte(ca.s)}", 403, "bad-signature"),
        (f"/q/{ca.merchant_id}?k={cb.k}&s={cb.s}", 403, "bad-signature"),  # B's signature
        (f"/q/{ca.merchant_id}?k=zzzzzzzz&s={ca.s}", 403, "unknown-key"),
        (f"/q/not-a-uuid?k={ca.k}&s={ca.s}", 400, "malformed"),
        (f"/q/{ca.merchant_id}?k={ca.k}&s=abc", 400, "malformed"),
        # cut short: refused as a code, with the same reason a browser reads on its page
        (f"/q/{ca.merchant_id}?k={ca.k}", 400, "malformed"),
        (f"/q/{ca.merchant_id}?s={ca.s}", 400, "malformed"),
        (f"/q/{ca.merchant_id}", 400, "malformed"),
        # a parameter twice: refused, as the qr package refuses it in a scanned URL
        (f"/q/{ca.merchant_id}?k=bad&k={ca.k}&s={ca.s}", 400, "malformed"),
        (f"/q/{ca.merchant_id}?k={ca.k}&s={ca.s}&s={ca.s}", 400, "malformed"),
        (f"/q/{ca.merchant_id}?k={ca.k}&s={ca.s}&extra=1", 400, "malformed"),
    ]
    for path, status, code in cases:
        body = await api.call("GET", path, expect=status)
        if code:
            assert body["type"].endswith(code), (path, body)
            assert "legal_name" not in body
            assert body["detail"]


async def test_key_rotation_and_revocation(api: Api) -> None:
    operator = await api.staff(Role.OPERATOR)
    shop = await api.active_merchant()
    old = await counter_of(api, shop["token"])
    new_key = await api.call("POST", "/qr/keys", operator, expect=201)
    fresh = await counter_of(api, shop["token"])
    assert fresh.k == new_key["kid"] != old.k
    # the old code still works while its key is active
    await api.call("GET", old.path)
    published = await api.call("GET", "/qr/keys")
    assert {k["kid"] for k in published["keys"]} >= {old.k, fresh.k}
    revoked = await api.call("POST", f"/qr/keys/{old.k}/revoke", operator)
    assert revoked["status"] == "revoked"
    body = await api.call("GET", old.path, expect=403)
    assert body["type"].endswith("revoked-key")
    await api.call("GET", fresh.path)
    await api.call("POST", f"/qr/keys/{old.k}/revoke", operator, expect=409)
    await api.call("POST", "/qr/keys", shop["token"], expect=403)


async def test_the_json_profile_shows_complaints_and_reasons_as_the_page_does(api: Api) -> None:
    shop, (product,) = await shop_with(api, STORED)
    consumer, paid = await buy_registered(api, shop, product)
    counter = await counter_of(api, shop["token"])
    fresh = await api.call("GET", counter.path)
    assert (fresh["risk_grade"], fresh["complaint_count"], fresh["reasons"]) == ("NR", 0, [])

    await complain(api, consumer, paid["card_id"], "not_delivered", "门店关门了", 1_000)
    debts = reason("tax_arrears_fen", 250_000, 0, 0.061)
    await add_rating(api, shop["merchant"]["id"], [debts], overrides=["dishonest-debtor"])
    profile = await api.call("GET", counter.path)
    assert profile["complaint_count"] == 1
    assert profile["risk_grade"] == "D"
    assert profile["overrides"] == ["dishonest-debtor"]
    regulator_view = await api.call("GET", f"/ratings/{shop['merchant']['id']}", shop["regulator"])
    assert profile["reasons"] == regulator_view["reasons"]
    assert profile["reasons"][0]["feature"] == "tax_arrears_fen"
    assert "2,500" in profile["reasons"][0]["text"]

    page = await api.client.get(counter.path, headers={"Accept": "text/html"})
    assert "投诉" in page.text
