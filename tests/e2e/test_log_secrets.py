"""No secret reaches a log line: a full journey against ``pguard run``, its whole output scanned.

The secrets: an anonymous card's link (the only proof of owning the card), an SMS sign-in
code, a sign-in token or session cookie, and the idempotency key of an anonymous buyer
(at least 32 random characters: the order's secret until the link exists).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from app.payments.sandbox import SandboxProvider
from tests.e2e.api import ANONYMOUS, PASSWORD, Api, Counter, counter_of, shop_with
from tests.live import pguard_run


async def test_a_full_journey_writes_no_secret_to_the_log(
    api: Api, database_url: str, tmp_path: Path
) -> None:
    shop, (anonymous,) = await shop_with(api, ANONYMOUS)
    counter = await counter_of(api, shop["token"])
    secrets: dict[str, str] = {}
    log_file = tmp_path / "pguard-run.log"
    with pguard_run(database_url, log_file, PGUARD_LOG_LEVEL="DEBUG") as base:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await _journey(client, api, shop, counter, anonymous, secrets)
    log = log_file.read_text()
    assert "/card/[secret]" in log, "the journey's request lines are not in the log"
    leaked = {name for name, secret in secrets.items() if secret in log}
    assert not leaked, f"written to the log: {sorted(leaked)}"


async def _journey(
    client: httpx.AsyncClient,
    api: Api,
    shop: dict[str, Any],
    counter: Counter,
    anonymous: dict[str, Any],
    secrets: dict[str, str],
) -> None:
    """Buy an anonymous card, reach it by its link, sign in by SMS (API and page) and as staff;
    every secret met on the way goes into ``secrets``."""
    key = uuid.uuid4().hex + uuid.uuid4().hex
    secrets["idempotency key"] = key
    placed = (
        await client.post(
            "/orders",
            json={
                "merchant_id": counter.merchant_id,
                "k": counter.k,
                "s": counter.s,
                "product_id": anonymous["id"],
            },
            headers={"Idempotency-Key": key},
        )
    ).json()
    link = placed["card_link"]
    secrets["card link"] = link
    headers, body = SandboxProvider().notification(placed["provider_order_id"], placed["amount"])
    assert (await client.post("/payments/sandbox/notify", content=body, headers=headers)).json()
    for path in (
        f"/orders/{placed['id']}?card_link={link}",
        f"/cards/anonymous/{link}",
        f"/card/{link}",
        f"/card/{link}/redeem",
        "/cards/anonymous/not-a-link-but-looks-like-one",
    ):
        await client.get(path)
    # an SMS sign-in, by the API and by the page
    phone = "13700001234"
    await client.post("/auth/sms-code", json={"phone": phone})
    code = await api.last_sms_code(phone)
    secrets["sms code"] = code
    token = (await client.post("/auth/sms-sign-in", json={"phone": phone, "code": code})).json()[
        "token"
    ]
    secrets["consumer token"] = token
    await client.get("/me/cards", headers={"authorization": f"Bearer {token}"})
    # a staff sign-in with a wrong password, then the right one
    await client.post("/auth/sign-in", json={"username": shop["username"], "password": "x"})
    staff = await client.post(
        "/auth/sign-in", json={"username": shop["username"], "password": PASSWORD}
    )
    secrets["staff token"] = staff.json()["token"]
    secrets["password"] = PASSWORD
    await client.post("/login/phone/code", data={"phone": phone})
    page_code = await api.last_sms_code(phone)
    secrets["second sms code"] = page_code
    signed = await client.post("/login/phone", data={"phone": phone, "code": page_code})
    secrets["session cookie"] = signed.cookies["pguard_session"]
    await client.get("/my/cards")
