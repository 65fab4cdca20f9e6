"""Cards moved with their money to a successor merchant's book (转卡), on PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import escrow
from escrow import AccountKind as A
from escrow import CardKind
from tests.integration.books import DUE

if TYPE_CHECKING:
    from tests.integration.books import Books


async def _move(
    books: Books,
    source: uuid.UUID,
    card: uuid.UUID,
    target: uuid.UUID,
    *,
    per_unit: int = 1,
    ratio: int = 3000,
    kind: CardKind = CardKind.SESSIONS,
    key: str | None = None,
    new_card: uuid.UUID | None = None,
) -> escrow.TransferReceipt:
    return await books.do(
        lambda ledger: ledger.transfer(
            source,
            card,
            to_merchant_id=target,
            new_card_id=new_card or uuid.uuid4(),
            kind=kind,
            units_per_unit=per_unit,
            custody_ratio_bp=ratio,
            idempotency_key=key or f"transfer:{card}",
        )
    )


async def _held(books: Books, *merchants: uuid.UUID) -> dict[str, int]:
    """Custody and cover held, and what consumers got back, summed over the books."""
    total = {"custody": 0, "cover": 0, "consumers": 0, "transfers": 0, "owed": 0, "merchant": 0}
    for m in merchants:
        balances = await books.do(lambda ledger, m=m: ledger.balances(m))
        total["custody"] += balances[A.CUSTODY]
        total["cover"] += balances[A.CARDS_COVER]
        total["consumers"] += balances[A.CONSUMERS]
        total["transfers"] += balances[A.TRANSFERS]
        total["owed"] -= balances[A.REFUNDS_PAYABLE]
        total["merchant"] += balances[A.MERCHANT]
    return total


async def test_a_card_moves_whole_to_the_successor_at_its_ratio(books: Books) -> None:
    school, successor = await books.open(), await books.open()
    bought = await books.buy(school, paid=300_000, units=30, ratio=3000, kind=CardKind.SESSIONS)
    card = bought.card.card_id
    await books.do(lambda ledger: ledger.redeem(school, card, units=10, idempotency_key="use"))
    before = await _held(books, school, successor)

    moved = await _move(books, school, card, successor, ratio=4000)

    assert moved.moved == 200_000  # 20 of 30 sessions left of ¥3,000
    assert moved.moved_from_custody == 60_000
    assert moved.released_from_cover == 140_000
    assert moved.new_card.paid == moved.new_card.outstanding == 200_000
    assert (moved.new_card.custody_share, moved.new_card.insured_share) == (80_000, 120_000)
    assert moved.from_successor == 20_000  # its ratio is higher: it tops custody up
    assert moved.card.status == "transferred"
    assert moved.card.outstanding == 0
    after = await _held(books, school, successor)
    # what the holder is owed is held whole: custody and cover over both books
    assert after["custody"] + after["cover"] == before["custody"] + before["cover"]
    assert after["custody"] == before["custody"] + moved.from_successor
    assert after["transfers"] == 0
    assert after["consumers"] == before["consumers"]  # the consumer paid nothing again
    school_books = await books.do(lambda ledger: ledger.balances(school))
    assert school_books[A.CUSTODY] == school_books[A.CARDS_COVER] == 0
    assert school_books[A.POLICY] == 0  # the closing merchant's insurer is off the hook
    assert (await books.do(lambda ledger: ledger.balances(successor)))[A.POLICY] == -120_000
    report = await books.verify(school, successor)
    assert report.ok, report.problems

    # the new card is used at the successor; the old one is closed, and says where it went
    used = await books.do(
        lambda ledger: ledger.redeem(
            successor, moved.new_card.card_id, units=5, idempotency_key="use-new"
        )
    )
    assert used.card.outstanding == 150_000
    with pytest.raises(escrow.CardNotOpen) as refused:
        await books.do(lambda ledger: ledger.redeem(school, card, units=1, idempotency_key="old"))
    assert refused.value.code == "card-transferred"
    assert (await books.verify(school, successor)).ok


async def test_a_lower_ratio_pays_the_successor_the_custody_surplus(books: Books) -> None:
    shop, successor = await books.open(), await books.open()
    card = (await books.buy(shop, paid=10_001, ratio=6000)).card.card_id
    moved = await _move(books, shop, card, successor, ratio=3000, kind=CardKind.STORED_VALUE)
    assert moved.moved_from_custody == 6_001
    assert moved.new_card.custody_share == 3_001  # ceil(10,001 x 30%)
    assert moved.from_successor == -3_000
    successor_books = await books.do(lambda ledger: ledger.balances(successor))
    assert successor_books[A.MERCHANT] == 3_000
    assert (await books.verify(shop, successor)).ok


async def test_a_repeat_replays_and_refusals_write_nothing(books: Books) -> None:
    shop, successor, other = await books.open(), await books.open(), await books.open()
    card = (await books.buy(shop, paid=5_000, units=5, kind=CardKind.SESSIONS)).card.card_id
    new_card = uuid.uuid4()
    first = await _move(books, shop, card, successor, new_card=new_card)
    again = await _move(books, shop, card, successor, new_card=new_card)
    assert again.replayed
    assert again.new_card == first.new_card
    assert (await books.counts(successor))["cards"] == 1

    before = [await books.counts(m) for m in (shop, successor, other)]
    with pytest.raises(escrow.IdempotencyConflict):  # same key, another request
        await _move(books, shop, card, other, key=f"transfer:{card}")
    with pytest.raises(escrow.CardNotOpen):  # already moved
        await _move(books, shop, card, other, key="again")
    second = (await books.buy(shop, paid=2_000, units=2, kind=CardKind.SESSIONS)).card.card_id
    before = [await books.counts(m) for m in (shop, successor, other)]
    with pytest.raises(escrow.InvalidRequest) as same:
        await _move(books, shop, second, shop)
    assert same.value.code == "transfer-same-merchant"
    with pytest.raises(escrow.InvalidRequest) as taken:  # the new id is a card already
        await _move(books, shop, second, other, new_card=new_card)
    assert taken.value.code == "card-exists"
    with pytest.raises(escrow.InvalidAmount):
        await _move(books, shop, second, other, per_unit=0)
    await books.do(lambda ledger: ledger.redeem(shop, second, units=2, idempotency_key="all"))
    before = [await books.counts(m) for m in (shop, successor, other)]
    with pytest.raises(escrow.CardNotOpen) as empty:
        await _move(books, shop, second, other)
    assert empty.value.code == "card-used-up"
    await books.do(lambda ledger: ledger.default_payout(other, idempotency_key="gone"))
    third = (await books.buy(shop, paid=2_000)).card.card_id
    before = [await books.counts(m) for m in (shop, successor, other)]
    with pytest.raises(escrow.BookFrozen):  # a defaulted successor takes nothing
        await _move(books, shop, third, other)
    assert [await books.counts(m) for m in (shop, successor, other)] == before
    assert (await books.verify(shop, successor, other)).ok


async def test_crossing_transfers_between_two_books_do_not_deadlock(books: Books) -> None:
    a, b = await books.open(), await books.open()
    from_a = [(await books.buy(a, paid=1_000 + i)).card.card_id for i in range(8)]
    from_b = [(await books.buy(b, paid=2_000 + i)).card.card_id for i in range(8)]

    async def move(source: uuid.UUID, card: uuid.UUID, target: uuid.UUID) -> Any:
        try:
            return await _move(
                books,
                source,
                card,
                target,
                new_card=uuid.uuid5(uuid.NAMESPACE_OID, str(card)),
            )
        except escrow.EscrowError as exc:
            return exc

    racing = [move(a, c, b) for c in from_a] + [move(b, c, a) for c in from_b]
    racing += [move(a, from_a[0], b)]  # the same card twice, same key: one entry, one replay
    results = await asyncio.wait_for(asyncio.gather(*racing), timeout=60)
    assert all(isinstance(r, escrow.TransferReceipt) for r in results), results
    assert sum(r.replayed for r in results) == 1
    assert (await books.verify(a, b)).ok
    for m in (a, b):
        balances = await books.do(lambda ledger, m=m: ledger.balances(m))
        assert balances[A.CUSTODY] + balances[A.CARDS_COVER] == sum(
            r.new_card.outstanding for r in results[:16] if r.to_merchant_id == m
        )


async def test_a_redemption_racing_the_move_is_counted_on_one_side_only(books: Books) -> None:
    a, b = await books.open(), await books.open()
    cards = [
        (await books.buy(a, paid=10_000, units=10, kind=CardKind.SESSIONS)).card.card_id
        for _ in range(6)
    ]

    async def use(card: uuid.UUID) -> object:
        try:
            return await books.do(
                lambda ledger: ledger.redeem(a, card, units=3, idempotency_key=f"use:{card}")
            )
        except escrow.CardNotOpen as exc:  # moved first: the code is refused, nothing used
            return exc

    raced = await asyncio.gather(
        *(use(c) for c in cards), *(_move(books, a, c, b, per_unit=2) for c in cards)
    )
    for card, used, moved in zip(cards, raced[:6], raced[6:], strict=True):
        assert isinstance(moved, escrow.TransferReceipt)
        left = 7 if isinstance(used, escrow.RedemptionReceipt) else 10
        assert moved.card.units_remaining == left, card
        assert moved.new_card.units_total == 2 * left
        assert moved.moved == left * 1_000
    assert (await books.verify(a, b)).ok


async def test_verify_finds_a_transfer_that_lost_money(books: Books) -> None:
    a, b = await books.open(), await books.open()
    card = (await books.buy(a, paid=9_000)).card.card_id
    moved = await _move(books, a, card, b, kind=CardKind.STORED_VALUE)
    async with books.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE cards DISABLE TRIGGER USER"))
        await session.execute(
            text("UPDATE cards SET paid = 9500 WHERE id = :c"), {"c": moved.new_card.card_id}
        )
        report = await escrow.verify(session, [a])
        await session.rollback()
    assert any("was worth 9000 fen" in p.message for p in report.problems), report.problems


@dataclass(frozen=True)
class Holder:
    kind: CardKind
    paid: int
    units: int
    ratio: int
    used: int
    choice: str


holders = st.builds(
    Holder,
    kind=st.sampled_from(list(CardKind)),
    paid=st.integers(1, 500_000),
    units=st.integers(1, 1_000),
    ratio=st.sampled_from([0, 1, 3_000, 3_333, 6_000, 10_000]),
    used=st.integers(0, 1_000),
    choice=st.sampled_from(["keep", "refund", "transfer", "nothing"]),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    book=st.lists(holders, min_size=1, max_size=6),
    successor_ratio=st.sampled_from([0, 2_999, 3_000, 5_000, 10_000]),
    exchange=st.integers(1, 3),
)
async def test_money_is_conserved_across_the_two_books_for_any_choices(
    books: Books, book: list[Holder], successor_ratio: int, exchange: int
) -> None:
    closing, successor = await books.open(), await books.open()
    cards = []
    for h in book:
        card = (await books.buy(closing, h.paid, h.units, h.ratio, h.kind)).card.card_id
        if 0 < h.used < h.units:
            await books.do(
                lambda ledger, card=card, h=h: ledger.redeem(
                    closing, card, units=h.used, idempotency_key=f"use:{card}"
                )
            )
        cards.append((card, h))
    worth = {
        c: (await books.do(lambda ledger, c=c: ledger.card(closing, c))).outstanding
        for c, _ in cards
    }
    before = await _held(books, closing, successor)
    topped_up = 0
    for card, h in cards:
        left = await books.do(lambda ledger, card=card: ledger.card(closing, card))
        if h.choice == "transfer" and left.outstanding > 0:
            moved = await _move(
                books,
                closing,
                card,
                successor,
                per_unit=exchange,
                ratio=successor_ratio,
            )
            assert moved.moved == left.outstanding
            topped_up += moved.from_successor
        elif h.choice != "keep":  # a refund, chosen or on the closing date for doing nothing
            await books.do(
                lambda ledger, card=card: ledger.refund(
                    closing, card, idempotency_key=f"refund:{card}", payable_due_at=DUE
                )
            )
    after = await _held(books, closing, successor)
    # to the fen: what holders are still owed on their cards, plus what they were paid back
    # or are owed on a refund, is what their cards were worth before anyone chose
    held_after = after["custody"] + after["cover"]
    refunded = after["consumers"] - before["consumers"] + after["owed"] - before["owed"]
    assert held_after + refunded == before["custody"] + before["cover"] == sum(worth.values())
    assert after["custody"] == before["custody"] + topped_up - (
        after["consumers"] - before["consumers"]
    )
    assert after["transfers"] == 0
    report = await books.verify(closing, successor)
    assert report.ok, report.problems
