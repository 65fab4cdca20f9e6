"""A sandbox payment provider that behaves like the real ones.

It confirms asynchronously with a signed notification (HMAC-SHA256 over timestamp and body,
checked in constant time), and it delivers the way real providers do: late, twice, and out
of order. The app treats it exactly as it would treat WeChat Pay.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal

from app.clock import utcnow
from app.payments.provider import InvalidNotification, PaymentEvent, ProviderOrder
from app.security.keys import purpose_key

Notify = Callable[[dict[str, str], bytes], Awaitable[str]]

SIGNATURE_HEADER = "x-sandbox-signature"
TOLERANCE_SECONDS = 300
"""A notification signed longer ago than this is refused (replays of old captures)."""


class SandboxProvider:
    """The sandbox 'bank', signing with a secret derived from the master key."""

    name = "sandbox"

    def __init__(self, secret: bytes | None = None, *, base_url: str = "") -> None:
        self._secret = secret or purpose_key("payments-sandbox")
        self._base_url = base_url

    def create_order(self, order_id: str, amount: int, description: str) -> ProviderOrder:
        """A provider order id; the consumer 'pays' on the sandbox page."""
        del order_id, amount, description  # the sandbox keeps no state of its own
        provider_order_id = "sbx_" + secrets.token_hex(12)
        return ProviderOrder(
            provider=self.name,
            provider_order_id=provider_order_id,
            pay_url=self.pay_url(provider_order_id),
        )

    def pay_url(self, provider_order_id: str) -> str:
        """The sandbox's own pay page."""
        return f"{self._base_url}/sandbox/pay/{provider_order_id}"

    def notification(
        self,
        provider_order_id: str,
        amount: int,
        status: Literal["SUCCESS", "CLOSED"] = "SUCCESS",
        *,
        event_id: str | None = None,
        signed_at: int | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Headers and body of one signed notification, as the provider would send it."""
        body = json.dumps(
            {
                "event_id": event_id or "evt_" + secrets.token_hex(10),
                "provider_order_id": provider_order_id,
                "status": status,
                "amount": amount,
                "occurred_at": utcnow().isoformat(),
            },
            separators=(",", ":"),
        ).encode()
        timestamp = signed_at if signed_at is not None else int(utcnow().timestamp())
        headers = {
            SIGNATURE_HEADER: f"t={timestamp},v1={self._sign(timestamp, body)}",
            "content-type": "application/json",
        }
        return headers, body

    def _sign(self, timestamp: int, body: bytes) -> str:
        return hmac.new(self._secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()

    def verify_notification(self, headers: dict[str, str], body: bytes) -> PaymentEvent:
        """Check signature and freshness, then parse; anything off is refused whole."""
        header = {k.lower(): v for k, v in headers.items()}.get(SIGNATURE_HEADER, "")
        parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
        try:
            timestamp = int(parts["t"])
            given = parts["v1"]
        except (KeyError, ValueError) as exc:
            raise InvalidNotification("notification-signature-malformed") from exc
        if abs(utcnow().timestamp() - timestamp) > TOLERANCE_SECONDS:
            raise InvalidNotification(
                "notification-signature-too-old", tolerance_seconds=TOLERANCE_SECONDS
            )
        if not hmac.compare_digest(
            self._sign(timestamp, body).encode(), given.encode("utf-8", "replace")
        ):
            raise InvalidNotification("notification-signature-mismatch")
        try:
            data = json.loads(body)
            status = data["status"]
            if status not in ("SUCCESS", "CLOSED"):
                raise InvalidNotification("notification-status-unknown", status=str(status))
            amount = data["amount"]
            if type(amount) is not int:
                raise InvalidNotification("notification-amount-not-whole")
            return PaymentEvent(
                provider=self.name,
                event_id=str(data["event_id"]),
                provider_order_id=str(data["provider_order_id"]),
                status=status,
                amount=amount,
                occurred_at=datetime.fromisoformat(data["occurred_at"]),
                payload=data,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidNotification("notification-body-not-understood") from exc


async def deliver(
    provider: SandboxProvider, provider_order_id: str, amount: int, notify: Notify
) -> list[str]:
    """Play the provider after the consumer paid: notify, then notify again (as real ones do)."""
    event_id = "evt_" + secrets.token_hex(10)
    outcomes = []
    for _ in range(2):
        headers, body = provider.notification(provider_order_id, amount, event_id=event_id)
        outcomes.append(await notify(headers, body))
    return outcomes
