"""Real concurrent connections racing on one card and one idempotency key."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import text

import escrow
from escrow import CardKind
from tests.integration.books import DUE

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.integration.books import Books

T = TypeVar("T")


async def test_fifty_concurrent_redemptions_on_a_card_worth_twenty(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=2_000, units=20, kind=CardKind.SESSIONS)).card.card_id

    async def redeem(i: int) -> escrow.RedemptionReceipt | Exception:
        try:
            return await books.do(
                lambda ledger: ledger.redeem(m, card, units=1, idempotency_key=f"use-{i}")
            )
        except escrow.EscrowError as exc:
            return exc

    results = await asyncio.gather(*(redeem(i) for i in range(50)))
    done = [r for r in results if isinstance(r, escrow.RedemptionReceipt)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 20
    assert len(refused) == 30
    assert all(isinstance(r, escrow.InsufficientBalance) for r in refused)
    assert all("0 units left" in str(r) for r in refused)
    final = await books.do(lambda ledger: ledger.card(m, card))
    assert (final.units_remaining, final.outstanding, final.custody_share) == (0, 0, 0)
    assert sorted(r.card.units_remaining for r in done) == list(range(20))
    counts = await books.counts(m)
    assert counts["entries"] == 21  # one purchase, twenty redemptions
    assert (await books.verify(m)).ok


async def test_twenty_concurrent_calls_with_one_key_write_one_entry(books: Books) -> None:
    m = await books.open()

    async def buy() -> escrow.PurchaseReceipt:
        return await books.do(
            lambda ledger: ledger.purchase(
                m,
                kind=CardKind.STORED_VALUE,
                paid=50_000,
                units_total=60_000,
                idempotency_key="one-key",
            )
        )

    receipts = await asyncio.gather(*(buy() for _ in range(20)))
    assert len({r.card.card_id for r in receipts}) == 1
    assert sum(not r.replayed for r in receipts) == 1
    counts = await books.counts(m)
    assert (counts["entries"], counts["cards"], counts["keys"]) == (1, 1, 1)
    assert (await books.verify(m)).ok


async def test_refund_racing_redemptions_never_overdraws(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=80_000, units=100_000)).card.card_id

    async def redeem(i: int) -> object:
        try:
            return await books.do(
                lambda ledger: ledger.redeem(m, card, units=7_000, idempotency_key=f"r{i}")
            )
        except escrow.CardNotOpen as exc:
            return exc

    async def refund() -> escrow.RefundReceipt:
        return await books.do(
            lambda ledger: ledger.refund(m, card, idempotency_key="refund", payable_due_at=DUE)
        )

    results = await asyncio.gather(*(redeem(i) for i in range(10)), refund())
    refund_receipt = results[-1]
    assert isinstance(refund_receipt, escrow.RefundReceipt)
    used = [r for r in results[:-1] if isinstance(r, escrow.RedemptionReceipt)]
    after_refund = [r for r in results[:-1] if isinstance(r, escrow.CardNotOpen)]
    assert len(used) + len(after_refund) == 10
    # the refund paid back exactly what the redemptions before it left
    units_left = 100_000 - 7_000 * len(used)
    assert refund_receipt.refunded == -(-80_000 * units_left // 100_000)
    balances = await books.do(lambda ledger: ledger.balances(m))
    released = sum(r.released_from_custody + r.released_from_cover for r in used)
    assert released + refund_receipt.refunded == 80_000
    assert balances[escrow.AccountKind.CUSTODY] == 0
    assert (await books.verify(m)).ok


async def test_thirty_concurrent_purchases_at_one_merchant_chain_cleanly(books: Books) -> None:
    m = await books.open()
    receipts = await asyncio.gather(*(books.buy(m, paid=1_000 + i) for i in range(30)))
    assert sorted(r.seq for r in receipts) == list(range(1, 31))
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[escrow.AccountKind.CUSTODY] == sum(r.custody for r in receipts)
    report = await books.verify(m)
    assert report.ok, report.problems
    assert report.entries == 30


async def test_concurrent_merchants_do_not_share_a_chain(books: Books) -> None:
    merchants = [await books.open() for _ in range(5)]
    await asyncio.gather(*(books.buy(m, paid=500) for m in merchants for _ in range(4)))
    report = await books.verify(*merchants)
    assert report.ok
    assert (report.merchants, report.entries) == (5, 20)
    assert uuid.UUID(int=0) not in merchants


async def _held_then_raced(
    books: Books,
    first: Callable[[escrow.EscrowLedger], Awaitable[object]],
    second: Callable[[escrow.EscrowLedger], Awaitable[T]],
) -> tuple[object, T | Exception]:
    """Run ``first`` in a transaction left open, start ``second`` so that it waits for the
    book's lock, then commit ``first``: ``second`` runs on what ``first`` committed after its
    own statement began, the case a stale read would get wrong."""
    async with books.sessions() as holder, holder.begin():
        done = await first(escrow.EscrowLedger(holder))

        async def race() -> T | Exception:
            try:
                return await books.do(second)
            except escrow.EscrowError as exc:
                return exc

        raced = asyncio.create_task(race())
        for _ in range(500):  # wait until it queues behind the book lock
            async with books.sessions() as probe:  # activity is read once a transaction
                waiting = await probe.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE wait_event_type = 'Lock' AND query LIKE '%merchant_books b%'"
                    )
                )
            if waiting:
                break
            await asyncio.sleep(0.01)
        assert waiting == 1
        assert not raced.done()
    return done, await raced


async def test_a_twin_waiting_for_the_lock_replays_what_the_first_committed(
    books: Books,
) -> None:
    m = await books.open()

    def buy(ledger: escrow.EscrowLedger) -> Awaitable[escrow.PurchaseReceipt]:
        return ledger.purchase(
            m, kind=CardKind.STORED_VALUE, paid=9_000, units_total=9_000, idempotency_key="twin"
        )

    first, second = await _held_then_raced(books, buy, buy)
    assert isinstance(first, escrow.PurchaseReceipt)
    assert isinstance(second, escrow.PurchaseReceipt)
    assert (second.replayed, second.card.card_id) == (True, first.card.card_id)
    counts = await books.counts(m)
    assert (counts["entries"], counts["cards"], counts["keys"]) == (1, 1, 1)


async def test_a_redemption_waiting_for_the_lock_sees_what_the_first_used(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=2_000, units=20, kind=CardKind.SESSIONS)).card.card_id
    first, second = await _held_then_raced(
        books,
        lambda ledger: ledger.redeem(m, card, units=15, idempotency_key="fifteen"),
        lambda ledger: ledger.redeem(m, card, units=10, idempotency_key="ten"),
    )
    assert isinstance(first, escrow.RedemptionReceipt)
    assert isinstance(second, escrow.InsufficientBalance)
    assert second.code == "card-sessions-short"
    final = await books.do(lambda ledger: ledger.card(m, card))
    assert (final.units_remaining, final.outstanding) == (5, 500)
    assert (await books.verify(m)).ok
