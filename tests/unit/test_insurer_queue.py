"""The insurer's page puts first what needs acting on: the order rules, without a database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from app.insurance.models import ClaimStatus
from app.insurance.service import by_exposure, to_act_on_first
from app.merchants.models import MerchantStatus

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def claim(name: str, status: ClaimStatus, days: int, total: int) -> Any:
    return SimpleNamespace(
        name=name, status=status, triggered_at=T0 + timedelta(days=days), total_fen=total
    )


def view(name: str, exposure: int, status: MerchantStatus = MerchantStatus.ACTIVE) -> Any:
    return SimpleNamespace(name=name, exposure=exposure, merchant=SimpleNamespace(status=status))


def test_claims_to_act_on_come_first_oldest_then_largest_and_closed_last_newest_first() -> None:
    claims = [
        claim("closed-old", ClaimStatus.CLOSED, 0, 9_000),
        claim("new-small", ClaimStatus.TRIGGERED, 5, 100),
        claim("old-small", ClaimStatus.ACKNOWLEDGED, 1, 100),
        claim("old-large", ClaimStatus.TRIGGERED, 1, 50_000),
        claim("closed-new", ClaimStatus.CLOSED, 4, 10),
    ]
    order = [c.name for c in to_act_on_first(claims)]
    assert order == ["old-large", "old-small", "new-small", "closed-new", "closed-old"]


def test_policies_by_exposure_with_defaulted_merchants_last() -> None:
    views = [
        view("small", 1_000),
        view("gone", 0, MerchantStatus.DEFAULTED),
        view("large", 90_000),
        view("none", 0),
    ]
    assert [v.name for v in by_exposure(views)] == ["large", "small", "none", "gone"]
