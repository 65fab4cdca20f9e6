"""Each escrow operation on real PostgreSQL: exact figures, refusals, idempotency."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import pytest

import escrow
from app.i18n import describe
from escrow import AccountKind as A
from escrow import CardKind
from tests.integration.books import DUE

if TYPE_CHECKING:
    from tests.integration.books import Books


async def test_purchase_splits_thirty_seventy_and_posts_both_ledgers(books: Books) -> None:
    m = await books.open()
    r = await books.buy(m, paid=80_000, units=100_000)
    assert (r.custody, r.insured, r.custody_ratio_bp, r.seq) == (24_000, 56_000, 3000, 1)
    assert r.card.outstanding == 80_000
    assert (r.card.custody_share, r.card.insured_share) == (24_000, 56_000)
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CUSTODY] == 24_000
    assert balances[A.MERCHANT] == 56_000
    assert balances[A.CONSUMERS] == -80_000
    assert balances[A.POLICY] == -56_000
    assert balances[A.CARDS_COVER] == 56_000
    assert (await books.verify(m)).ok


async def test_redemption_releases_custody_down_to_the_ceiling_of_the_ratio(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=80_000, units=100_000)).card.card_id
    r = await books.do(lambda ledger: ledger.redeem(m, card, units=12_345, idempotency_key="r1"))
    # outstanding = ceil(80000 * 87655 / 100000) = 70124; custody = ceil(70124 * 0.3) = 21038
    assert r.card.outstanding == 70_124
    assert (r.card.custody_share, r.card.insured_share) == (21_038, 49_086)
    assert (r.released_from_custody, r.released_from_cover) == (2_962, 6_914)
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CUSTODY] == 21_038
    assert balances[A.MERCHANT] == 56_000 + 2_962
    assert -balances[A.POLICY] == 49_086
    assert (await books.verify(m)).ok


async def test_sessions_card_used_up_owes_nothing(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=99_999, units=10, ratio=3_333, kind=CardKind.SESSIONS)).card
    assert (card.custody_share, card.insured_share) == (33_330, 66_669)
    r = await books.do(lambda ledger: ledger.redeem(m, card.card_id, units=7, idempotency_key="a"))
    assert r.card.outstanding == 30_000
    assert r.card.custody_share == 9_999
    r = await books.do(lambda ledger: ledger.redeem(m, card.card_id, units=3, idempotency_key="b"))
    assert (r.card.outstanding, r.card.custody_share, r.card.insured_share) == (0, 0, 0)
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CUSTODY] == 0
    assert balances[A.MERCHANT] == 99_999
    assert balances[A.POLICY] == 0
    assert (await books.verify(m)).ok


async def test_solvent_refund_pays_custody_now_and_books_the_rest_as_receivable(
    books: Books,
) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=50_000)).card.card_id
    r = await books.do(
        lambda ledger: ledger.refund(m, card, idempotency_key="refund", payable_due_at=DUE)
    )
    assert (r.refunded, r.paid_from_custody, r.owed_by_merchant) == (50_000, 15_000, 35_000)
    assert r.card.status == escrow.CardStatus.REFUNDED
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CUSTODY] == 0
    assert balances[A.MERCHANT_RECEIVABLE] == 35_000
    assert balances[A.REFUNDS_PAYABLE] == -35_000
    s = await books.do(
        lambda ledger: ledger.settle_payables(m, via="merchant", amount=35_000, idempotency_key="s")
    )
    assert s.receivable_left == 0
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CONSUMERS] == 0  # the consumer has all 50,000 back
    assert balances[A.MERCHANT] == 0
    assert balances[A.MERCHANT_RECEIVABLE] == 0
    with pytest.raises(escrow.CardNotOpen):
        await books.do(lambda ledger: ledger.redeem(m, card, units=1, idempotency_key="late"))
    assert (await books.verify(m)).ok


async def test_default_payout_returns_exactly_the_outstanding_of_every_card(books: Books) -> None:
    m = await books.open()
    a = (await books.buy(m, paid=80_000, units=100_000)).card.card_id
    b = (await books.buy(m, paid=30_001, ratio=6_000)).card.card_id
    c = (await books.buy(m, paid=10_000, units=4, kind=CardKind.SESSIONS)).card.card_id
    await books.do(lambda ledger: ledger.redeem(m, a, units=33_333, idempotency_key="ra"))
    await books.do(lambda ledger: ledger.redeem(m, c, units=4, idempotency_key="rc"))
    before = {cid: await books.do(lambda ledger, cid=cid: ledger.card(m, cid)) for cid in (a, b, c)}
    payout = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    by_card = {p.card_id: p for p in payout.cards}
    assert set(by_card) == {a, b, c}
    for cid, card in before.items():
        p = by_card[cid]
        assert p.outstanding == card.outstanding
        assert p.custody_paid == card.custody_share
        assert p.claim_amount == card.insured_share
        assert p.custody_paid + p.claim_amount == p.outstanding
    assert payout.total_outstanding == sum(c.outstanding for c in before.values())
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CUSTODY] == 0
    assert balances[A.CARDS_COVER] == 0
    assert balances[A.CLAIMS_PENDING] == payout.total_claim == -balances[A.POLICY]
    assert (await books.verify(m)).ok
    # the book is frozen: no new sale, no second default; a retry of the same call replays
    with pytest.raises(escrow.BookFrozen):
        await books.buy(m, paid=100)
    with pytest.raises(escrow.BookFrozen):
        await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="again"))
    replay = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    assert replay.replayed
    assert replay.total_claim == payout.total_claim


async def test_same_key_same_request_replays_the_first_result(books: Books) -> None:
    m = await books.open()

    async def buy(ledger: escrow.EscrowLedger) -> escrow.PurchaseReceipt:
        return await ledger.purchase(
            m, kind=CardKind.STORED_VALUE, paid=1_000, units_total=1_000, idempotency_key="same"
        )

    first = await books.do(buy)
    second = await books.do(buy)
    assert not first.replayed
    assert second.replayed
    assert second.card.card_id == first.card.card_id
    assert second.seq == first.seq
    assert (await books.counts(m))["entries"] == 1


async def test_same_key_different_request_is_a_conflict_and_writes_nothing(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=1_000)).card.card_id
    await books.do(lambda ledger: ledger.redeem(m, card, units=10, idempotency_key="k"))
    before = await books.counts(m)
    with pytest.raises(escrow.IdempotencyConflict, match="different request"):
        await books.do(lambda ledger: ledger.redeem(m, card, units=11, idempotency_key="k"))
    with pytest.raises(escrow.IdempotencyConflict):
        await books.do(
            lambda ledger: ledger.refund(m, card, idempotency_key="k", payable_due_at=DUE)
        )
    assert await books.counts(m) == before


@pytest.mark.parametrize(
    ("paid", "units", "ratio", "error", "message"),
    [
        (0, 100, 3000, escrow.InvalidAmount, "greater than zero"),
        (-500, 100, 3000, escrow.InvalidAmount, "greater than zero"),
        (10**12 + 1, 100, 3000, escrow.InvalidAmount, "above the ceiling"),
        (100, 0, 3000, escrow.InvalidAmount, "units"),
        (100, 100, -1, escrow.InvalidRatio, "between 0 and 10000"),
        (100, 100, 10_001, escrow.InvalidRatio, "between 0 and 10000"),
    ],
)
async def test_bad_purchase_is_refused_and_writes_nothing(
    books: Books, paid: int, units: int, ratio: int, error: type[Exception], message: str
) -> None:
    m = await books.open()
    await books.buy(m, paid=1_000)
    before = await books.counts(m)
    with pytest.raises(error, match=message):
        await books.do(
            lambda ledger: ledger.purchase(
                m,
                kind=CardKind.STORED_VALUE,
                paid=paid,
                units_total=units,
                custody_ratio_bp=ratio,
                idempotency_key="bad",
            )
        )
    assert await books.counts(m) == before


async def test_bad_redemptions_are_refused_and_write_nothing(books: Books) -> None:
    m = await books.open()
    other = await books.open()
    card = (await books.buy(m, paid=1_000)).card.card_id
    foreign = (await books.buy(other, paid=1_000)).card.card_id
    before = await books.counts(m)
    cases: list[tuple[type[Exception], uuid.UUID, uuid.UUID, int]] = [
        (escrow.InvalidAmount, m, card, 0),
        (escrow.InvalidAmount, m, card, -5),
        (escrow.InsufficientBalance, m, card, 1_001),
        (escrow.UnknownCard, m, uuid.uuid4(), 1),
        (escrow.UnknownCard, m, foreign, 1),  # another merchant's card
        (escrow.UnknownBook, uuid.uuid4(), card, 1),
    ]
    for error, merchant, card_id, units in cases:
        with pytest.raises(error):
            await books.do(
                lambda ledger, mm=merchant, cc=card_id, u=units: ledger.redeem(
                    mm, cc, units=u, idempotency_key="bad"
                )
            )
    with pytest.raises(escrow.InvalidRequest, match="idempotency key"):
        await books.do(lambda ledger: ledger.redeem(m, card, units=1, idempotency_key=" "))
    with pytest.raises(escrow.InsufficientBalance):
        await books.do(
            lambda ledger: ledger.settle_payables(m, via="merchant", amount=1, idempotency_key="s")
        )
    assert await books.counts(m) == before
    assert (await books.verify(m, other)).ok


async def test_a_redemption_above_what_is_left_says_so_in_what_the_card_counts(
    books: Books,
) -> None:
    m = await books.open()
    value = (await books.buy(m, paid=40_000, units=50_000)).card.card_id
    sessions = (await books.buy(m, paid=9_000, units=3, kind=CardKind.SESSIONS)).card.card_id
    before = await books.counts(m)
    with pytest.raises(escrow.InsufficientBalance) as short:
        await books.do(lambda ledger: ledger.redeem(m, value, units=80_000, idempotency_key="v"))
    assert str(short.value) == "the card has 50000 units left; 80000 cannot be redeemed"
    assert short.value.code == "card-value-short"
    assert short.value.params == {"card_id": value, "balance_fen": 50_000, "asked_fen": 80_000}
    assert describe(short.value, "zh") == "卡内余额只剩 ¥500.00，不能核销 ¥800.00"
    with pytest.raises(escrow.InsufficientBalance) as short:
        await books.do(lambda ledger: ledger.redeem(m, sessions, units=5, idempotency_key="s"))
    assert short.value.code == "card-sessions-short"
    assert short.value.params == {"card_id": sessions, "sessions_left": 3, "sessions_asked": 5}
    assert describe(short.value, "en") == "the card has 3 sessions left; 5 cannot be redeemed"
    assert await books.counts(m) == before


async def test_a_closed_card_says_why(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=1_000)).card.card_id
    await books.do(lambda ledger: ledger.refund(m, card, idempotency_key="r", payable_due_at=DUE))
    with pytest.raises(escrow.CardNotOpen) as closed:
        await books.do(lambda ledger: ledger.redeem(m, card, units=1, idempotency_key="u"))
    assert (closed.value.code, closed.value.params) == ("card-refunded", {"card_id": card})
    assert describe(closed.value, "zh") == "这张卡已退款，不能再使用"


async def test_unknown_card_kind_is_refused(books: Books) -> None:
    m = await books.open()
    with pytest.raises(escrow.InvalidRequest, match="card kind"):
        await books.do(
            lambda ledger: ledger.purchase(
                m,
                kind="gift",  # type: ignore[arg-type]
                paid=100,
                units_total=100,
                idempotency_key="k",
            )
        )
    assert (await books.counts(m))["entries"] == 0
