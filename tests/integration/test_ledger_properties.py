"""Property tests: random cards and random sequences of operations keep every invariant."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

import escrow
from escrow import AccountKind as A
from escrow import CardKind
from tests.integration.books import DUE

if TYPE_CHECKING:
    import uuid
    from collections.abc import Awaitable, Callable

    from tests.integration.books import Books


@dataclass(frozen=True)
class CardSpec:
    kind: CardKind
    paid: int
    units: int
    ratio: int


card_specs = st.builds(
    CardSpec,
    kind=st.sampled_from(list(CardKind)),
    paid=st.integers(min_value=1, max_value=500_000),
    units=st.integers(min_value=1, max_value=1_000_000),
    ratio=st.one_of(st.integers(0, 10_000), st.sampled_from([0, 3_000, 3_333, 6_000, 10_000])),
)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("redeem"), st.integers(0, 4), st.integers(1, 1_000_000)),
        st.tuples(st.just("refund"), st.integers(0, 4), st.just(0)),
        st.tuples(st.just("compensate"), st.integers(0, 4), st.integers(1, 600_000)),
        st.tuples(st.just("settle"), st.just(0), st.integers(1, 600_000)),
        st.tuples(st.just("net"), st.just(0), st.integers(1, 600_000)),
        st.tuples(st.just("claim"), st.just(0), st.just(0)),
        st.tuples(st.just("insurer"), st.just(0), st.just(0)),
    ),
    max_size=12,
)
"""Redeem, refund and compensate; the merchant settles what it owes itself or out of its
sales; what is past its deadline is claimed, and the insurer pays the claims."""


def _operation(
    m: uuid.UUID, op: str, card: uuid.UUID, amount: int, key: str
) -> Callable[[escrow.EscrowLedger], Awaitable[object]]:
    """One step of the sequence, as a ledger call."""
    if op == "redeem":
        return lambda ledger: ledger.redeem(m, card, units=amount, idempotency_key=key)
    if op == "refund":
        return lambda ledger: ledger.refund(m, card, idempotency_key=key, payable_due_at=DUE)
    if op == "compensate":
        return lambda ledger: ledger.compensate(
            m, card, amount=amount, idempotency_key=key, payable_due_at=DUE
        )
    if op in ("settle", "net"):
        via = "merchant" if op == "settle" else "netting"
        return lambda ledger: ledger.settle_payables(m, via=via, amount=amount, idempotency_key=key)
    if op == "claim":
        return lambda ledger: ledger.claim_payables(m, due_by=DUE, idempotency_key=key)
    return lambda ledger: ledger.pay_claim(m, reference=key, idempotency_key=key)


async def _payable_legs(books: Books, m: uuid.UUID) -> list[Any]:
    async with books.sessions() as session:
        return list(
            (
                await session.execute(
                    text(
                        "SELECT amount FROM postings WHERE merchant_id = :m"
                        " AND account = 'refunds_payable' AND payable_seq IS NOT NULL"
                    ),
                    {"m": m},
                )
            ).all()
        )


async def _assert_invariants(books: Books, m: uuid.UUID, specs: list[CardSpec]) -> None:
    """Recheck DESIGN.md's invariants from the database, independently of the ledger code."""
    report = await books.verify(m)
    assert report.ok, report.problems
    async with books.sessions() as session:
        cards = (
            await session.execute(
                escrow.models.Card.__table__.select().where(escrow.models.Card.merchant_id == m)
            )
        ).all()
    balances = await books.do(lambda ledger: ledger.balances(m))
    for c in cards:
        r = c.custody_ratio_bp
        assert c.custody_share + c.insured_share == c.outstanding
        assert c.custody_share * 10_000 >= c.outstanding * r > (c.custody_share - 1) * 10_000 or (
            c.outstanding * r == 0 and c.custody_share == 0
        )
        assert 0 <= c.outstanding <= c.paid
        if c.status == "open":
            exact = c.paid * c.units_remaining
            assert c.outstanding * c.units_total >= exact > (c.outstanding - 1) * c.units_total or (
                exact == 0 and c.outstanding == 0
            )
    assert balances[A.CUSTODY] == sum(c.custody_share for c in cards)
    assert -balances[A.POLICY] == (
        sum(c.insured_share for c in cards)
        + balances[A.CLAIMS_PENDING]
        + balances[A.PAYABLES_COVER]
    )
    # every refund reaches its consumer whole: what the payables still owe is all accounted
    assert -balances[A.REFUNDS_PAYABLE] == balances[A.MERCHANT_RECEIVABLE] == report.pending
    assert report.pending == sum(-c.amount for c in await _payable_legs(books, m)), (
        "the payables' pending parts disagree with the postings"
    )
    # consumers never get back more than they paid, but for compensations decided on top
    compensated = sum(c.amount for c in await _all_payable_legs(books, m, kind="compensation"))
    assert balances[A.CONSUMERS] <= -compensated
    assert sum(balances[k] for k in A if escrow.models.LEDGER_OF[k] == "money") == 0
    assert -balances[A.CONSUMERS] <= sum(s.paid for s in specs)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(specs=st.lists(card_specs, min_size=1, max_size=3), steps=ops)
async def test_every_step_keeps_the_invariants(
    books: Books, specs: list[CardSpec], steps: list[tuple[str, int, int]]
) -> None:
    m = await books.open()
    cards = []
    for spec in specs:
        receipt = await books.buy(m, spec.paid, spec.units, spec.ratio, spec.kind)
        assert receipt.custody + receipt.insured == spec.paid
        cards.append(receipt.card.card_id)
    await _assert_invariants(books, m, specs)
    for n, (op, index, amount) in enumerate(steps):
        card = cards[index % len(cards)]
        key = f"step-{n}"
        before = await books.counts(m)
        try:
            await books.do(_operation(m, op, card, amount, key))
        except (
            escrow.InsufficientBalance,
            escrow.CardNotOpen,
            escrow.NoClaimPending,
            escrow.InvalidAmount,
            escrow.CompensationOverPrice,
        ):
            # a refusal is allowed, and leaves the books exactly as they were
            assert await books.counts(m) == before
        await _assert_invariants(books, m, specs)

    # declaring default hands every consumer exactly their outstanding amount
    open_before = {c: await books.do(lambda ledger, c=c: ledger.card(m, c)) for c in cards}
    payout = await books.do(lambda ledger: ledger.default_payout(m, idempotency_key="default"))
    for p in payout.cards:
        assert (
            p.custody_paid + p.claim_amount == p.outstanding == open_before[p.card_id].outstanding
        )
    assert {p.card_id for p in payout.cards} == {
        c for c, b in open_before.items() if b.status == "open"
    }
    await _assert_invariants(books, m, specs)

    # and once the insurer pays the claim, every consumer has received every fen: the cards'
    # outstanding and every refund and compensation, whoever paid it
    with contextlib.suppress(escrow.NoClaimPending):
        await books.do(lambda ledger: ledger.pay_claim(m, reference="R", idempotency_key="final"))
    await _assert_invariants(books, m, specs)
    final = await books.verify(m)
    assert final.pending == 0
    assert sum(final.settled.values()) == -sum(c.amount for c in await _all_payable_legs(books, m))


async def _all_payable_legs(books: Books, m: uuid.UUID, kind: str | None = None) -> list[Any]:
    """Every leg that created a payable (of ``kind``): what merchants came to owe consumers."""
    async with books.sessions() as session:
        return list(
            (
                await session.execute(
                    text(
                        "SELECT p.amount FROM postings p JOIN payables y"
                        " ON y.merchant_id = p.merchant_id AND y.seq = p.seq"
                        " AND y.seq = p.payable_seq"
                        " WHERE p.merchant_id = :m AND p.account = 'refunds_payable'"
                        " AND (CAST(:kind AS text) IS NULL OR y.kind = :kind)"
                    ),
                    {"m": m, "kind": kind},
                )
            ).all()
        )
