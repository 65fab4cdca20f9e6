"""The insurer's claim payment after a default, regulator-ordered compensation, and the
custody movements that reconciliation expects, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import escrow
from app.db import create_engine, session_factory
from escrow import AccountKind as A
from escrow import CardKind
from escrow.errors import CompensationOverPrice
from tests.integration.books import DUE, Books

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from tests.conftest import Databases

_RETURNED = text("""
    SELECT card_id, sum(amount)::bigint AS returned
      FROM postings
     WHERE merchant_id = :m AND account = 'consumers' AND amount > 0 AND card_id IS NOT NULL
     GROUP BY card_id
""")


async def _returned_per_card(books: Books, m: uuid.UUID) -> dict[uuid.UUID, int]:
    """Money paid back to each card's consumer, read from the postings themselves."""
    async with books.sessions() as session:
        return {row.card_id: row.returned for row in await session.execute(_RETURNED, {"m": m})}


async def _defaulted_book(books: Books) -> tuple[uuid.UUID, dict[uuid.UUID, int]]:
    """A merchant with used and unused cards, declared in default; outstanding per card."""
    m = await books.open()
    a = (await books.buy(m, paid=80_000, units=100_000)).card.card_id
    b = (await books.buy(m, paid=30_001, ratio=6_000)).card.card_id
    c = (await books.buy(m, paid=10_000, units=3, kind=CardKind.SESSIONS)).card.card_id
    d = (await books.buy(m, paid=5_000, ratio=10_000)).card.card_id  # all in custody
    await books.do(lambda ledger: ledger.redeem(m, a, units=33_333, idempotency_key="ra"))
    await books.do(lambda ledger: ledger.redeem(m, c, units=1, idempotency_key="rc"))
    outstanding = {}
    for card in (a, b, c, d):
        outstanding[card] = (await books.do(lambda ledger, cc=card: ledger.card(m, cc))).outstanding
    await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    return m, outstanding


# -- pay_claim ---------------------------------------------------------------------------


async def test_claim_payment_gives_every_consumer_exactly_the_outstanding_at_default(
    books: Books,
) -> None:
    m, outstanding = await _defaulted_book(books)
    payout = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    claim = await books.do(
        lambda ledger: ledger.pay_claim(m, reference="INS-2026-0001", idempotency_key="claim")
    )
    custody_paid = {p.card_id: p.custody_paid for p in payout.cards}
    claim_paid = {c.card_id: c.amount for c in claim.cards}
    # the all-custody card has no claim; every other card is paid its insured share
    assert set(claim_paid) == {p.card_id for p in payout.cards if p.claim_amount > 0}
    assert len(claim_paid) == 3
    for card, owed in outstanding.items():
        assert custody_paid[card] + claim_paid.get(card, 0) == owed
    assert [c.card_id for c in claim.cards] == sorted(claim_paid)
    assert claim.total == sum(claim_paid.values()) == payout.total_claim
    assert (claim.merchant_id, claim.seq, claim.reference) == (m, payout.seq + 1, "INS-2026-0001")
    assert not claim.replayed

    assert await _returned_per_card(books, m) == outstanding
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CLAIMS_PENDING] == 0
    assert balances[A.POLICY] == 0
    assert balances[A.INSURER] == -claim.total
    assert balances[A.CUSTODY] == 0
    # consumers paid in 125,001 and got back exactly what their cards were still worth
    assert balances[A.CONSUMERS] == -(125_001 - sum(outstanding.values()))
    report = await books.verify(m)
    assert report.ok, report.problems

    async with books.sessions() as session:
        history = await escrow.card_history(session, m, claim.cards[0].card_id)
    assert [e.kind for e in history][-2:] == ["default_payout", "claim_payment"]
    assert history[-1].to_consumer == claim.cards[0].amount


async def test_claim_is_paid_once_and_a_retry_replays(books: Books) -> None:
    m, _ = await _defaulted_book(books)
    first = await books.do(lambda ledger: ledger.pay_claim(m, reference="R1", idempotency_key="k"))
    before = await books.counts(m)
    with pytest.raises(escrow.NoClaimPending, match="already been paid"):
        await books.do(lambda ledger: ledger.pay_claim(m, reference="R1", idempotency_key="k2"))
    again = await books.do(lambda ledger: ledger.pay_claim(m, reference="R1", idempotency_key="k"))
    assert again.replayed
    assert msgspec.structs.replace(again, replayed=False) == first
    with pytest.raises(escrow.IdempotencyConflict):
        await books.do(lambda ledger: ledger.pay_claim(m, reference="R2", idempotency_key="k"))
    with pytest.raises(escrow.IdempotencyConflict):  # the default's own key
        await books.do(
            lambda ledger: ledger.pay_claim(m, reference="R1", idempotency_key="default")
        )
    assert await books.counts(m) == before
    assert (await books.verify(m)).ok


async def test_no_claim_before_a_default(books: Books) -> None:
    m = await books.open()
    await books.buy(m, paid=10_000)
    before = await books.counts(m)
    with pytest.raises(escrow.NoClaimPending, match="no default"):
        await books.do(lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="k"))
    with pytest.raises(escrow.UnknownBook):
        await books.do(
            lambda ledger: ledger.pay_claim(uuid.uuid4(), reference="R", idempotency_key="k")
        )
    for bad in ("", "  ", "x" * 201):
        with pytest.raises(escrow.InvalidRequest, match="payment reference"):
            await books.do(
                lambda ledger, r=bad: ledger.pay_claim(m, reference=r, idempotency_key="k")
            )
    assert await books.counts(m) == before


async def test_default_without_insured_shares_leaves_nothing_to_claim(books: Books) -> None:
    m = await books.open()
    await books.buy(m, paid=10_000, ratio=10_000)
    await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    with pytest.raises(escrow.NoClaimPending, match="nothing is pending"):
        await books.do(lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="k"))
    assert (await books.verify(m)).ok


async def test_the_book_stays_frozen_after_the_claim(books: Books) -> None:
    m, outstanding = await _defaulted_book(books)
    await books.do(lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="claim"))
    card = next(iter(outstanding))
    with pytest.raises(escrow.BookFrozen):
        await books.buy(m, paid=100)
    with pytest.raises(escrow.BookFrozen):
        await books.do(
            lambda ledger: ledger.compensate(
                m, card, amount=1, idempotency_key="late", payable_due_at=DUE
            )
        )
    with pytest.raises(escrow.BookFrozen):
        await books.do(
            lambda ledger: ledger.settle_payables(m, via="merchant", amount=1, idempotency_key="s")
        )


async def test_two_concurrent_claim_payments_pay_once(books: Books) -> None:
    m, outstanding = await _defaulted_book(books)

    async def pay(key: str) -> escrow.ClaimPaymentReceipt | escrow.EscrowError:
        try:
            return await books.do(
                lambda ledger: ledger.pay_claim(m, reference=key, idempotency_key=key)
            )
        except escrow.EscrowError as exc:
            return exc

    results = await asyncio.gather(pay("insurer-a"), pay("insurer-b"))
    paid = [r for r in results if isinstance(r, escrow.ClaimPaymentReceipt)]
    refused = [r for r in results if not isinstance(r, escrow.ClaimPaymentReceipt)]
    assert len(paid) == 1
    assert len(refused) == 1
    assert isinstance(refused[0], escrow.NoClaimPending)
    assert await _returned_per_card(books, m) == outstanding
    assert (await books.verify(m)).ok


async def test_claim_racing_the_default_pays_only_after_it(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=70_000)).card.card_id

    async def pay() -> object:
        try:
            return await books.do(
                lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="claim")
            )
        except escrow.NoClaimPending as exc:
            return exc

    _, claim = await asyncio.gather(
        books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default")), pay()
    )
    if isinstance(claim, escrow.NoClaimPending):  # it ran first: pay now
        claim = await pay()
    assert isinstance(claim, escrow.ClaimPaymentReceipt)
    assert claim.total == 49_000
    assert await _returned_per_card(books, m) == {card: 70_000}
    assert (await books.verify(m)).ok


async def test_verify_finds_a_claim_paid_twice_to_one_card(databases: Databases) -> None:
    engine = create_engine(databases.create())  # a database of its own: it gets tampered with
    try:
        books = Books(session_factory(engine))
        m, _ = await _defaulted_book(books)
        default = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
        payout = {p.card_id: p.custody_paid for p in default.cards}
        claim = await books.do(
            lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="c")
        )
        paid_twice, claimed_twice = claim.cards[0], claim.cards[1]
        async with books.sessions() as session, session.begin():
            await session.execute(text("SET LOCAL session_replication_role = replica"))
            tamper = text(
                "UPDATE postings SET amount = amount * 2 WHERE merchant_id = :m AND seq = :seq"
                " AND card_id = :card AND ledger = :ledger"
            )
            for card, ledger in ((paid_twice, "money"), (claimed_twice, "cover")):
                await session.execute(
                    tamper, {"m": m, "seq": claim.seq, "card": card.card_id, "ledger": ledger}
                )
        problems = [str(p) for p in (await books.verify(m)).problems]
        assert f"merchant {m} entry {claim.seq}: content does not match its hash (altered)" in (
            problems
        )
        assert (
            f"merchant {m}: card {paid_twice.card_id}: its consumer got"
            f" {2 * paid_twice.amount + payout[paid_twice.card_id]} back with 0 still claimed,"
            f" but the card was worth {paid_twice.amount + payout[paid_twice.card_id]} at default"
        ) in problems
        assert (
            f"merchant {m}: card {claimed_twice.card_id}: the insurer paid {claimed_twice.amount}"
            " more than the card's claim"
        ) in problems
    finally:
        await engine.dispose()


@dataclass(frozen=True)
class CardSpec:
    kind: CardKind
    paid: int
    units: int
    ratio: int
    used: int  # per mille of the units redeemed before the default


card_specs = st.builds(
    CardSpec,
    kind=st.sampled_from(list(CardKind)),
    paid=st.integers(min_value=1, max_value=500_000),
    units=st.integers(min_value=1, max_value=1_000_000),
    ratio=st.one_of(st.integers(0, 10_000), st.sampled_from([0, 3_000, 3_333, 6_000, 10_000])),
    used=st.integers(0, 1_000),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(card_specs, min_size=1, max_size=5), refund_first=st.booleans())
async def test_default_then_claim_pays_each_consumer_exactly_their_outstanding(
    books: Books, specs: list[CardSpec], *, refund_first: bool
) -> None:
    m = await books.open()
    cards = []
    for n, spec in enumerate(specs):
        card = (await books.buy(m, spec.paid, spec.units, spec.ratio, spec.kind)).card.card_id
        cards.append(card)
        units = spec.units * spec.used // 1_000
        if units:
            await books.do(
                lambda ledger, c=card, u=units, k=f"use-{n}": ledger.redeem(
                    m, c, units=u, idempotency_key=k
                )
            )
    refunded: dict[uuid.UUID, int] = {}
    if refund_first:  # refunded while solvent: the merchant still owes its part at the default
        refund = await books.do(
            lambda ledger: ledger.refund(m, cards[0], idempotency_key="refund", payable_due_at=DUE)
        )
        refunded[cards[0]] = refund.refunded
    before = {c: await books.do(lambda ledger, c=c: ledger.card(m, c)) for c in cards}
    owed = {c: b.outstanding for c, b in before.items() if b.status == "open"}

    payout = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    # A defaulted merchant pays nothing more: the payables it owed are claimed with the cards.
    assert payout.total_payables == (
        refund.owed_by_merchant if refund_first else 0  # type: ignore[possibly-undefined]
    )
    if payout.total_claim + payout.total_payables == 0:
        with pytest.raises(escrow.NoClaimPending):
            await books.do(lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="c"))
        claimed: dict[uuid.UUID, int] = {}
    else:
        claim = await books.do(
            lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="c")
        )
        claimed = {c.card_id: c.amount for c in claim.cards if c.payable_seq is None}
        assert claim.total == payout.total_claim + payout.total_payables
    for p in payout.cards:
        assert p.custody_paid + claimed.get(p.card_id, 0) == owed[p.card_id]
    returned = await _returned_per_card(books, m)
    assert {p.card_id for p in payout.cards} == set(owed)
    for card, amount in (owed | refunded).items():
        assert returned.get(card, 0) == amount  # every consumer whole, the refunded one too
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.CLAIMS_PENDING] == 0
    assert balances[A.POLICY] == 0
    assert balances[A.CUSTODY] == 0
    report = await books.verify(m)
    assert report.ok, report.problems


# -- compensate --------------------------------------------------------------------------


async def test_compensation_is_a_receivable_that_settlement_pays(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=80_000, units=100_000)).card
    await books.do(
        lambda ledger: ledger.redeem(m, card.card_id, units=10_000, idempotency_key="use")
    )
    before = await books.do(lambda ledger: ledger.card(m, card.card_id))
    r = await books.do(
        lambda ledger: ledger.compensate(
            m, card.card_id, amount=12_345, idempotency_key="decision", payable_due_at=DUE
        )
    )
    assert (r.merchant_id, r.seq, r.card_id, r.amount, r.receivable) == (
        m,
        3,
        card.card_id,
        12_345,
        12_345,
    )
    assert r.card == before
    assert await books.do(lambda ledger: ledger.card(m, card.card_id)) == before
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.MERCHANT_RECEIVABLE] == 12_345
    assert balances[A.REFUNDS_PAYABLE] == -12_345
    assert balances[A.CUSTODY] == before.custody_share
    async with books.sessions() as session:
        owed = await escrow.settlement(session, m)
        history = await escrow.card_history(session, m, card.card_id)
    assert owed.receivable == 12_345
    assert owed.outstanding == before.outstanding
    assert history[-1].kind == "compensation"
    assert (await books.verify(m)).ok

    replay = await books.do(
        lambda ledger: ledger.compensate(
            m, card.card_id, amount=12_345, idempotency_key="decision", payable_due_at=DUE
        )
    )
    assert replay.replayed
    assert replay.seq == r.seq
    with pytest.raises(escrow.IdempotencyConflict):
        await books.do(
            lambda ledger: ledger.compensate(
                m, card.card_id, amount=1, idempotency_key="decision", payable_due_at=DUE
            )
        )

    s = await books.do(
        lambda ledger: ledger.settle_payables(
            m, via="merchant", amount=12_345, idempotency_key="paid"
        )
    )
    assert s.receivable_left == 0
    balances = await books.do(lambda ledger: ledger.balances(m))
    assert balances[A.MERCHANT_RECEIVABLE] == 0
    assert balances[A.REFUNDS_PAYABLE] == 0
    # the consumer paid 80,000 and holds a card still worth its outstanding, plus 12,345 back
    assert balances[A.CONSUMERS] == -80_000 + 12_345
    # the card is still usable, and still refundable in full of what is left
    await books.do(lambda ledger: ledger.redeem(m, card.card_id, units=1, idempotency_key="u2"))
    refund = await books.do(
        lambda ledger: ledger.refund(m, card.card_id, idempotency_key="rf", payable_due_at=DUE)
    )
    assert refund.refunded == refund.paid_from_custody + refund.owed_by_merchant
    report = await books.verify(m)
    assert report.ok, report.problems


async def test_compensation_refusals_write_nothing(books: Books) -> None:
    m = await books.open()
    other = await books.open()
    card = (await books.buy(m, paid=10_000)).card.card_id
    closed = (await books.buy(m, paid=5_000)).card.card_id
    await books.do(
        lambda ledger: ledger.refund(m, closed, idempotency_key="refund", payable_due_at=DUE)
    )
    foreign = (await books.buy(other, paid=10_000)).card.card_id
    before = await books.counts(m)
    cases: list[tuple[type[Exception], uuid.UUID, int, str]] = [
        (escrow.InvalidAmount, card, 0, "greater than zero"),
        (escrow.InvalidAmount, card, -1, "greater than zero"),
        (escrow.InvalidAmount, card, 10_001, "more than the 10000 fen paid"),
        (escrow.CardNotOpen, closed, 1, "refunded"),
        (escrow.UnknownCard, foreign, 1, "does not exist at this merchant"),
        (escrow.UnknownCard, uuid.uuid4(), 1, "does not exist"),
    ]
    for error, card_id, amount, message in cases:
        with pytest.raises(error, match=message):
            await books.do(
                lambda ledger, c=card_id, a=amount: ledger.compensate(
                    m, c, amount=a, idempotency_key="bad", payable_due_at=DUE
                )
            )
    assert await books.counts(m) == before
    # exactly the price paid is allowed
    full = await books.do(
        lambda ledger: ledger.compensate(
            m, card, amount=10_000, idempotency_key="full", payable_due_at=DUE
        )
    )
    assert full.receivable == 10_000 + 3_500  # with the refund's insured part still owed

    await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    with pytest.raises(escrow.BookFrozen):
        await books.do(
            lambda ledger: ledger.compensate(
                m, card, amount=1, idempotency_key="x", payable_due_at=DUE
            )
        )
    assert (await books.verify(m, other)).ok


async def test_compensations_on_a_card_add_up_to_at_most_its_price(books: Books) -> None:
    m = await books.open()
    card = (await books.buy(m, paid=10_000)).card.card_id

    def compensate(
        amount: int, key: str
    ) -> Callable[[escrow.EscrowLedger], Awaitable[escrow.CompensationReceipt]]:
        return lambda ledger: ledger.compensate(
            m, card, amount=amount, idempotency_key=key, payable_due_at=DUE
        )

    first = await books.do(compensate(6_000, "first"))
    before = await books.counts(m)
    with pytest.raises(CompensationOverPrice, match="at most 4000 fen more") as refused:
        await books.do(compensate(4_001, "second"))
    assert isinstance(refused.value, escrow.Refused)
    assert await books.counts(m) == before
    second = await books.do(compensate(4_000, "second"))  # exactly the price in all
    assert second.receivable == first.receivable + 4_000 == 10_000
    before = await books.counts(m)
    with pytest.raises(CompensationOverPrice, match="at most 0 fen more"):
        await books.do(compensate(1, "third"))
    assert await books.counts(m) == before
    assert (await books.do(compensate(6_000, "first"))).replayed  # a retry still replays
    # a refund closes the card: no compensation after it
    await books.do(
        lambda ledger: ledger.refund(m, card, idempotency_key="refund", payable_due_at=DUE)
    )
    with pytest.raises(escrow.CardNotOpen):
        await books.do(compensate(1, "after-refund"))
    assert (await books.verify(m)).ok


# -- custody movements -------------------------------------------------------------------


async def test_custody_movements_by_shanghai_day_and_reconciled_against_a_statement(
    books: Books,
) -> None:
    m = await books.open()
    quiet = await books.open()  # not asked for: its entries must not appear
    await books.buy(quiet, paid=1_000)
    midnight = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)  # 2026-03-02 00:00 in Shanghai
    at = [
        midnight - timedelta(seconds=1),  # seq 1: still 1 March in Shanghai
        midnight,  # seq 2: purchase on 2 March
        midnight + timedelta(hours=5),  # seq 3: redemption releasing custody
        midnight + timedelta(hours=6),  # seq 4: compensation, no custody money moves
        midnight + timedelta(hours=7),  # seq 5: refund paid from custody
        midnight + timedelta(days=1),  # seq 6: 3 March
    ]
    clock = iter(at)

    async def run(op: str, **kw: object) -> object:
        async with books.sessions() as session, session.begin():
            ledger = escrow.EscrowLedger(session, clock=lambda: next(clock))
            return await getattr(ledger, op)(m, **kw)

    first = await run(
        "purchase", kind=CardKind.STORED_VALUE, paid=1_000, units_total=1_000, idempotency_key="1"
    )
    second = await run(
        "purchase", kind=CardKind.STORED_VALUE, paid=10_000, units_total=10_000, idempotency_key="2"
    )
    assert isinstance(first, escrow.PurchaseReceipt)
    assert isinstance(second, escrow.PurchaseReceipt)
    card = second.card.card_id
    await run("redeem", card_id=card, units=5_000, idempotency_key="3")
    await run("compensate", card_id=card, amount=100, idempotency_key="4", payable_due_at=DUE)
    await run("refund", card_id=card, idempotency_key="5", payable_due_at=DUE)
    await run(
        "purchase", kind=CardKind.STORED_VALUE, paid=2_000, units_total=2_000, idempotency_key="6"
    )

    async with books.sessions() as session:
        day2 = await escrow.custody_movements(session, [m], date(2026, 3, 2), date(2026, 3, 2))
        all_days = await escrow.custody_movements(
            session, [m, uuid.uuid4()], date(2026, 3, 1), date(2026, 3, 3)
        )
        none = await escrow.custody_movements(session, [], date(2026, 3, 1), date(2026, 3, 3))
    ref = f"PG-{m.hex[:12]}"
    assert day2 == [
        escrow.Movement(date(2026, 3, 2), m, f"{ref}-2", 3_000),
        escrow.Movement(date(2026, 3, 2), m, f"{ref}-3", -1_500),
        escrow.Movement(date(2026, 3, 2), m, f"{ref}-5", -1_500),
    ]
    assert [(mv.day, mv.reference, mv.amount) for mv in all_days] == [
        (date(2026, 3, 1), f"{ref}-1", 300),
        (date(2026, 3, 2), f"{ref}-2", 3_000),
        (date(2026, 3, 2), f"{ref}-3", -1_500),
        (date(2026, 3, 2), f"{ref}-5", -1_500),
        (date(2026, 3, 3), f"{ref}-6", 600),
    ]
    assert none == []

    statement = escrow.parse_statement(
        "date,account,reference,amount\n"
        f"2026-03-02,6222001,{ref}-2,30.00\n"
        f"2026-03-02,6222001,{ref}-3,-15.00\n"
        f"2026-03-02,6222001,{ref}-5,-14.00\n"
        "2026-03-02,6222001,INTEREST,0.35\n"
    )
    result = escrow.reconcile(day2, statement, {"6222001": m})
    assert [p.expected.reference for p in result.matched] == [f"{ref}-2", f"{ref}-3"]
    assert [p.line.line for p in result.mismatched] == [4]
    assert [line.reference for line in result.unexpected] == ["INTEREST"]
    assert result.missing == ()
    # only 14.00 of the expected 15.00 left custody: the bank holds more, so no shortfall
    assert result.shortfall == {}
    # without the purchase's 30.00 the custody account is short by 30.00 - 1.00
    short = escrow.reconcile(day2, statement[1:], {"6222001": m})
    assert short.shortfall == {m: 2_900}
    assert [mv.reference for mv in short.missing] == [f"{ref}-2"]
