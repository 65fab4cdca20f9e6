"""The consumer side's rules that need no database: each decided in one place, said by code."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from app.cards.refunds import cooling_off
from app.cards.service import _id_number_fault, needs_real_name
from app.exceptions import Conflict
from app.i18n import describe, message_ids
from app.merchants.models import Merchant, MerchantStatus, Product
from app.pages.consumer.cards import yuan_field
from app.pages.forms import parse_yuan
from app.payments.configured import NoPayments, payment_provider
from app.payments.provider import InvalidNotification, PaymentProvider
from app.payments.sandbox import SandboxProvider
from app.qrcodes.scan import NOT_APPROVED, NOT_SELLING, refusal
from app.settings import CardRules, get_settings

RULES = CardRules(real_name_threshold=1_000_000)


@pytest.mark.parametrize(
    ("anonymous", "price", "needed"),
    [
        (False, 100, True),  # every registered card
        (True, 999_999, False),  # anonymous, under ¥10,000
        (True, 1_000_000, True),  # anonymous, from the threshold up
    ],
)
def test_who_must_give_a_real_name(anonymous: bool, price: int, needed: bool) -> None:
    assert needs_real_name(Product(anonymous=anonymous, price=price), RULES) is needed


def test_cooling_off_runs_through_its_last_shanghai_day() -> None:
    bought = datetime(2026, 1, 1, 15, 30, tzinfo=UTC)  # 23:30 on 1 January in Shanghai
    last = cooling_off(bought, 7, datetime(2026, 1, 8, 15, 59, tzinfo=UTC))  # 23:59 on the 8th
    assert last.last_day == date(2026, 1, 8)
    assert last.running
    assert not cooling_off(bought, 7, datetime(2026, 1, 8, 16, 0, tzinfo=UTC)).running


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("12345", "id-number-shape"),
        ("110105194913310020", "id-number-birth-date"),
        ("110105194912310021", "id-number-check-digit"),
        ("11010519491231002X", None),
    ],
)
def test_an_id_numbers_fault_has_a_code_with_words(number: str, code: str | None) -> None:
    assert _id_number_fault(number) == code
    if code is not None:
        assert f"error.{code}" in message_ids()


@pytest.mark.parametrize("status", [*NOT_SELLING, MerchantStatus.PENDING])
def test_a_merchant_that_may_not_sell_is_refused_by_a_specific_code(status: str) -> None:
    merchant = Merchant(legal_name="杭州某健身有限公司", status=status)
    error = refusal(NOT_SELLING.get(MerchantStatus(status), NOT_APPROVED), merchant)
    assert error.code != "merchant-not-selling"
    assert error.params == {"legal_name": "杭州某健身有限公司", "licence_status": status}
    assert describe(error, "zh") != describe(error, "en")
    assert refusal("a-kind-not-known-yet", merchant).code == "merchant-not-selling"


@pytest.mark.parametrize("fen", [0, 1, 99, 100, 80_000, 123_456_789])
def test_a_yuan_field_reads_back_as_the_same_fen(fen: int) -> None:
    assert parse_yuan(yuan_field(fen)) == fen


def test_the_configured_provider_is_the_sandbox_or_none() -> None:
    assert isinstance(payment_provider(get_settings()), SandboxProvider)
    none = NoPayments()
    assert isinstance(none, PaymentProvider)
    with pytest.raises(Conflict) as refused:
        none.create_order("o", 100, "card")
    assert refused.value.code == "payments-disabled"
    with pytest.raises(InvalidNotification) as believed:
        none.verify_notification({}, b"{}")
    assert believed.value.code == "notification-no-provider"


def test_a_stale_sandbox_notification_is_refused_by_code() -> None:
    provider = SandboxProvider(b"k" * 32)
    headers, body = provider.notification("sbx_1", 100, signed_at=1)
    with pytest.raises(InvalidNotification) as refused:
        provider.verify_notification(headers, body)
    assert refused.value.code == "notification-signature-too-old"
    assert "too old" in describe(refused.value, "en")
