"""Property tests: random cards and random sequences of operations keep every invariant."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import escrow
from escrow import AccountKind as A
from escrow import CardKind

if TYPE_CHECKING:
    import uuid

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
        st.tuples(st.just("settle"), st.just(0), st.integers(1, 600_000)),
    ),
    max_size=10,
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
    assert -balances[A.POLICY] == sum(c.insured_share for c in cards) + balances[A.CLAIMS_PENDING]
    assert balances[A.CONSUMERS] <= 0
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
            if op == "redeem":
                await books.do(
                    lambda ledger, c=card, u=amount, k=key: ledger.redeem(
                        m, c, units=u, idempotency_key=k
                    )
                )
            elif op == "refund":
                await books.do(lambda ledger, c=card, k=key: ledger.refund(m, c, idempotency_key=k))
            else:
                await books.do(
                    lambda ledger, a=amount, k=key: ledger.settle_receivable(
                        m, amount=a, idempotency_key=k
                    )
                )
        except (escrow.InsufficientBalance, escrow.CardNotOpen):
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
