"""The dispute's rules without a database: each step, each refusal's code, and properties that
hold for any sequence of steps a consumer, a merchant, a regulator and the clock may take."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.clock import SHANGHAI
from app.exceptions import AppError, Conflict, Forbidden, Invalid
from app.i18n import describe, message_ids
from app.supervision import dispute_rules as rules
from app.supervision.dispute_rules import (
    CONFIRM_DAYS,
    MAX_REOPENS,
    MAX_TEXT,
    MEDIATION_DAYS,
    MERCHANT_ANSWER_DAYS,
    REDECIDE_DAYS,
    Complaint,
    Decision,
    DisputeKind,
    DisputeOwner,
    DisputeStatus,
    Move,
    Ruling,
    Standing,
    Step,
    Writing,
)

NOW = datetime(2026, 3, 2, 3, 30, tzinfo=UTC)  # 11:30 in Shanghai, a Monday
PAID = 80_000
ASKED = Complaint(DisputeKind.NOT_DELIVERED, "门店关门", 80_000)


def code_of(error: pytest.ExceptionInfo[AppError]) -> str:
    return error.value.code


def filed_at(now: datetime = NOW) -> Standing:
    return rules.filed(now, ASKED, PAID).standing


def in_mediation(now: datetime = NOW) -> Standing:
    return rules.answered(filed_at(now), now, "可以转店", None, PAID).standing


def decided_at(now: datetime = NOW, decision: Decision = Decision.REJECT) -> Standing:
    ruling = Ruling(decision, "证据不足")
    return rules.decided(in_mediation(now), now, ruling, "证据不足").standing


# -- each step ------------------------------------------------------------------------------


def test_the_rules_module_reads_no_database() -> None:
    """Importing the rules loads neither SQLAlchemy nor the web framework."""
    probe = (
        "import sys, app.supervision.dispute_rules;"
        "print(sorted(m for m in ('sqlalchemy', 'litestar') if m in sys.modules))"
    )
    found = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert found.stdout.strip() == "[]"


def test_deadlines_end_at_shanghai_midnight() -> None:
    deadline = rules.deadline_after(NOW, MERCHANT_ANSWER_DAYS)
    local = deadline.astimezone(SHANGHAI)
    assert local.time() == time(0)
    assert local.date() == NOW.astimezone(SHANGHAI).date() + timedelta(days=4)
    # 23:59 Shanghai is still the same business day
    late = datetime(2026, 3, 2, 15, 59, tzinfo=UTC)
    assert rules.deadline_after(late, 1) == rules.deadline_after(NOW, 1)
    # 00:00 Shanghai is the next one
    assert rules.deadline_after(late + timedelta(minutes=1), 1) > rules.deadline_after(NOW, 1)


def test_filing_asks_the_merchant_first() -> None:
    move = rules.filed(NOW, ASKED, PAID)
    assert (move.standing.status, move.standing.owner) == (
        DisputeStatus.FILED,
        DisputeOwner.MERCHANT,
    )
    assert move.standing.deadline_at == rules.deadline_after(NOW, MERCHANT_ANSWER_DAYS)
    assert move.step is Step.FILED
    assert move.note is None
    assert move.facts == {"kind": "not_delivered", "asked_fen": 80_000}


@pytest.mark.parametrize("amount", [-1, PAID + 1])
def test_a_complaint_asks_at_most_what_was_paid(amount: int) -> None:
    with pytest.raises(Invalid) as refused:
        rules.filed(NOW, Complaint(DisputeKind.QUALITY, "x", amount), PAID)
    assert code_of(refused) == "dispute-amount-above-paid"
    assert refused.value.fields == {"amount_asked": "dispute-amount-above-paid"}
    assert refused.value.params == {"paid_fen": PAID}


def test_an_identical_filing_is_a_replay_anything_else_is_refused() -> None:
    assert rules.is_replay(ASKED, Complaint(DisputeKind.NOT_DELIVERED, "门店关门", 80_000))
    assert not rules.is_replay(ASKED, Complaint(DisputeKind.NOT_DELIVERED, "另一件事", 80_000))
    assert not rules.is_replay(ASKED, Complaint(DisputeKind.QUALITY, "门店关门", 80_000))
    dispute_id = uuid.uuid4()
    refused = rules.already_open(dispute_id, NOW, "mediation")
    assert refused.code == "dispute-already-open"
    assert refused.params["dispute_id"] == str(dispute_id)
    assert "already open" in describe(refused, "en")
    assert "mediation" in describe(refused, "en")


@pytest.mark.parametrize(
    ("what", "blank", "long"),
    [
        (Writing.COMPLAINT, "dispute-complaint-blank", "dispute-complaint-too-long"),
        (Writing.ANSWER, "dispute-answer-blank", "dispute-answer-too-long"),
        (Writing.REASONS, "dispute-reasons-blank", "dispute-reasons-too-long"),
        (Writing.REOPENING, "dispute-reopen-reason-blank", "dispute-reopen-reason-too-long"),
    ],
)
def test_what_people_write_is_trimmed_and_bounded(what: Writing, blank: str, long: str) -> None:
    assert rules.written("  说明  ", what) == "说明"
    assert rules.written("长" * MAX_TEXT, what) == "长" * MAX_TEXT
    with pytest.raises(Invalid) as empty:
        rules.written(" \n ", what)
    assert (code_of(empty), empty.value.fields) == (blank, {"text": blank})
    with pytest.raises(Invalid) as too_long:
        rules.written("长" * (MAX_TEXT + 1), what)
    assert code_of(too_long) == long
    assert too_long.value.params == {"max": MAX_TEXT}


def test_only_the_party_of_a_step_takes_it() -> None:
    rules.check_party("consumer", DisputeOwner.CONSUMER)
    rules.check_party("merchant", DisputeOwner.MERCHANT)
    rules.check_party("regulator", DisputeOwner.REGULATOR)
    rules.check_party("operator", DisputeOwner.REGULATOR)  # a city-level regulator
    for role, party, code in [
        ("merchant", DisputeOwner.CONSUMER, "dispute-consumers-only"),
        ("consumer", DisputeOwner.MERCHANT, "dispute-merchants-only"),
        ("insurer", DisputeOwner.REGULATOR, "dispute-regulators-only"),
        ("consumer", DisputeOwner.REGULATOR, "dispute-regulators-only"),
    ]:
        with pytest.raises(Forbidden) as refused:
            rules.check_party(role, party)
        assert code_of(refused) == code
    assert rules.TAKEN_BY[Step.DECIDED] is DisputeOwner.REGULATOR


def test_the_merchant_answers_once_and_may_offer_up_to_what_was_paid() -> None:
    later = NOW + timedelta(days=1)
    move = rules.answered(filed_at(), later, "可以转店", 20_000, PAID)
    assert (move.standing.status, move.standing.owner) == (
        DisputeStatus.MEDIATION,
        DisputeOwner.REGULATOR,
    )
    assert move.standing.deadline_at == rules.deadline_after(later, MEDIATION_DAYS)
    assert move.standing.answered
    assert move.note == "可以转店"
    assert move.facts == {"offer_fen": 20_000}
    assert rules.answered(filed_at(), later, "不退", None, PAID).facts == {}
    with pytest.raises(Invalid) as over:
        rules.answered(filed_at(), later, "x", PAID + 1, PAID)
    assert code_of(over) == "dispute-offer-above-paid"
    with pytest.raises(Conflict) as twice:
        rules.answered(move.standing, later, "x", None, PAID)
    assert code_of(twice) == "dispute-already-answered"


def test_a_late_answer_is_taken_until_the_regulator_decided() -> None:
    overdue = rules.escalated(filed_at(), NOW + timedelta(days=10))
    assert overdue is not None
    assert overdue.overdue == rules.Overdue("answer")
    assert overdue.note is None
    deadline = rules.deadline_after(NOW, MERCHANT_ANSWER_DAYS)
    assert overdue.facts == {"overdue": "answer", "deadline": deadline.isoformat()}
    late = rules.answered(overdue.standing, NOW + timedelta(days=11), "晚了", None, PAID)
    assert late.standing.escalated_at is None
    unanswered = rules.decided(
        overdue.standing, NOW + timedelta(days=11), Ruling(Decision.REFUND, "r"), "r", PAID, 7
    )
    with pytest.raises(Conflict) as closed:
        rules.answered(unanswered.standing, NOW + timedelta(days=12), "x", None, PAID)
    assert code_of(closed) == "dispute-answer-closed"
    assert closed.value.params == {"dispute_status": "decided"}


def test_the_merchant_is_heard_before_a_decision() -> None:
    with pytest.raises(Conflict) as early:
        rules.check_decidable(filed_at())
    assert code_of(early) == "dispute-decide-before-answer"
    assert early.value.params == {"deadline_at": filed_at().deadline_at}
    rules.check_decidable(in_mediation())
    with pytest.raises(Conflict) as decided:
        rules.check_decidable(decided_at())
    assert code_of(decided) == "dispute-already-decided"


@pytest.mark.parametrize(
    ("ruling", "code"),
    [
        (Ruling(Decision.PARTIAL, "部分"), "dispute-partial-needs-amount"),
        (Ruling(Decision.PARTIAL, "部分", 0), "dispute-partial-needs-amount"),
        (Ruling(Decision.REFUND, "退", 5), "dispute-refund-takes-no-amount"),
        (Ruling(Decision.REJECT, "驳回", 5), "dispute-reject-takes-no-amount"),
        (Ruling(Decision.REJECT, "  "), "dispute-reasons-blank"),
    ],
)
def test_a_ruling_states_an_amount_only_for_partial(ruling: Ruling, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        rules.ruling_text(ruling)
    assert code_of(refused) == code
    assert set(refused.value.fields.values()) == {code}


def test_money_is_decided_only_on_an_open_card_and_never_above_paid() -> None:
    rules.check_payable(Ruling(Decision.PARTIAL, "x", PAID), "open", PAID)
    rules.check_payable(Ruling(Decision.REJECT, "x"), "refunded", PAID)  # reject always can
    with pytest.raises(Invalid) as over:
        rules.check_payable(Ruling(Decision.PARTIAL, "x", PAID + 1), "open", PAID)
    assert code_of(over) == "dispute-decided-above-paid"
    for status, code in [
        ("refunded", "dispute-card-refunded"),
        ("defaulted", "dispute-card-defaulted"),
        ("frozen", "dispute-card-not-open"),
    ]:
        with pytest.raises(Conflict) as closed:
            rules.check_payable(Ruling(Decision.REFUND, "x"), status, PAID)
        assert code_of(closed) == code
        assert "reject" in describe(closed.value, "en")


def test_a_decision_waits_for_the_consumer_and_says_what_moved() -> None:
    later = NOW + timedelta(days=2)
    refund = rules.decided(in_mediation(), later, Ruling(Decision.REFUND, "r"), "r", PAID, 12)
    assert (refund.standing.status, refund.standing.owner) == (
        DisputeStatus.DECIDED,
        DisputeOwner.CONSUMER,
    )
    assert refund.standing.deadline_at == rules.deadline_after(later, CONFIRM_DAYS)
    assert refund.note == "r"
    assert refund.facts == {"decision": "refund", "amount_fen": PAID, "entry": 12}
    reject = rules.decided(in_mediation(), later, Ruling(Decision.REJECT, "r"), "r")
    assert (reject.note, reject.facts) == ("r", {"decision": "reject"})
    dispute_id = uuid.uuid4()
    assert rules.decision_key(dispute_id, in_mediation()) == f"dispute:{dispute_id}:decision:1"


def test_the_consumer_confirms_or_reopens_once_in_time() -> None:
    later = NOW + timedelta(days=3)
    closed = rules.confirmed(decided_at(), later)
    assert closed.standing == Standing(
        DisputeStatus.CONFIRMED, DisputeOwner.NOBODY, None, None, True, 0, later
    )
    again = rules.reopened(decided_at(), later, "补偿太少")
    assert (again.standing.status, again.standing.owner, again.standing.reopens) == (
        DisputeStatus.REOPENED,
        DisputeOwner.REGULATOR,
        1,
    )
    assert again.standing.deadline_at == rules.deadline_after(later, REDECIDE_DAYS)
    assert again.note == "补偿太少"
    second = rules.decided(again.standing, later, Ruling(Decision.REJECT, "r"), "r").standing
    with pytest.raises(Conflict) as once:
        rules.reopened(second, later, "还是不满意")
    assert code_of(once) == "dispute-reopened-once"
    deadline = decided_at().deadline_at
    assert deadline is not None
    with pytest.raises(Conflict) as too_late:
        rules.reopened(decided_at(), deadline, "晚了")
    assert code_of(too_late) == "dispute-reopen-too-late"
    assert too_late.value.params == {"ended_at": deadline}


@pytest.mark.parametrize(
    ("standing", "doing", "code"),
    [
        (filed_at(), rules.confirmed, "dispute-confirm-awaits-answer"),
        (in_mediation(), rules.confirmed, "dispute-confirm-awaits-decision"),
        (filed_at(), lambda s, now: rules.reopened(s, now, "x"), "dispute-reopen-awaits-answer"),
        (
            in_mediation(),
            lambda s, now: rules.reopened(s, now, "x"),
            "dispute-reopen-awaits-decision",
        ),
    ],
)
def test_there_is_nothing_to_confirm_before_a_decision(
    standing: Standing, doing: Callable[[Standing, datetime], Move], code: str
) -> None:
    with pytest.raises(Conflict) as early:
        doing(standing, NOW)
    assert code_of(early) == code


def test_a_closed_dispute_refuses_every_step() -> None:
    closed = rules.confirmed(decided_at(), NOW).standing
    for step, code in [
        (lambda: rules.confirmed(closed, NOW), "dispute-closed-cannot-confirm"),
        (lambda: rules.reopened(closed, NOW, "x"), "dispute-closed-cannot-reopen"),
        (lambda: rules.check_decidable(closed), "dispute-closed-cannot-decide"),
        (lambda: rules.answered(closed, NOW, "x", None, PAID), "dispute-already-answered"),
    ]:
        with pytest.raises(Conflict) as refused:
            step()
        assert code_of(refused) == code
    assert rules.escalated(closed, NOW + timedelta(days=100)) is None


def test_escalation_warns_for_the_merchant_and_the_regulator_and_closes_for_the_consumer() -> None:
    far = NOW + timedelta(days=30)
    decide = rules.escalated(in_mediation(), far)
    assert decide is not None
    assert decide.overdue is not None
    assert decide.overdue.key == "decide-1"
    assert decide.standing.escalated_at == far
    assert decide.standing.deadline_at == in_mediation().deadline_at  # kept: shown overdue
    assert rules.escalated(decide.standing, far + timedelta(days=1)) is None  # once
    silent = rules.escalated(decided_at(), far)
    assert silent is not None
    assert silent.step is Step.DEEMED_CONFIRMED
    assert silent.overdue is None
    assert (silent.standing.status, silent.standing.closed_at) == (DisputeStatus.CONFIRMED, far)
    assert rules.escalated(in_mediation(), NOW) is None  # not yet due


def test_every_code_has_words_in_both_languages() -> None:
    codes = {
        "dispute-consumers-only",
        "dispute-merchants-only",
        "dispute-regulators-only",
        "dispute-not-found",
        "dispute-merchant-not-found",
        "dispute-merchant-defaulted",
        "dispute-already-open",
        "dispute-amount-above-paid",
        "dispute-already-answered",
        "dispute-answer-closed",
        "dispute-offer-above-paid",
        "dispute-partial-needs-amount",
        "dispute-refund-takes-no-amount",
        "dispute-reject-takes-no-amount",
        "dispute-decide-before-answer",
        "dispute-already-decided",
        "dispute-closed-cannot-decide",
        "dispute-closed-cannot-confirm",
        "dispute-closed-cannot-reopen",
        "dispute-confirm-awaits-answer",
        "dispute-confirm-awaits-decision",
        "dispute-reopen-awaits-answer",
        "dispute-reopen-awaits-decision",
        "dispute-reopen-too-late",
        "dispute-reopened-once",
        "dispute-card-refunded",
        "dispute-card-defaulted",
        "dispute-card-not-open",
        "dispute-decided-above-paid",
    }
    codes |= {f"dispute-{w}-blank" for w in Writing} | {f"dispute-{w}-too-long" for w in Writing}
    assert not {f"error.{c}" for c in codes} - message_ids()


def test_a_message_is_in_the_readers_language_with_money_and_times_formatted() -> None:
    refused = Invalid("dispute-amount-above-paid", paid_fen=PAID)
    assert describe(refused, "zh") == "要求退还的金额最多为购卡实付的 ¥800.00"
    assert describe(refused, "en") == "you can ask for at most the CN¥800.00 paid for the card"
    early = Conflict("dispute-decide-before-answer", deadline_at=filed_at().deadline_at)
    assert "商户尚未答复" in describe(early, "zh")
    assert "2026" in describe(early, "zh")


# -- properties -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Act:
    """One thing that may happen to a dispute: a party's step, or the clock and escalation."""

    kind: str
    minutes: int
    amount: int = 0


ACTS = st.builds(
    Act,
    kind=st.sampled_from(
        ["answer", "offer", "refund", "partial", "reject", "confirm", "reopen", "escalate"]
    ),
    minutes=st.integers(min_value=0, max_value=12 * 24 * 60),
    amount=st.integers(min_value=-10, max_value=PAID + 10),
)


def act(standing: Standing, now: datetime, what: Act) -> Move | None:
    """Take ``what`` as the rules allow it; ``None`` when nothing is due."""
    if what.kind in {"answer", "offer"}:
        offer = what.amount if what.kind == "offer" else None
        return rules.answered(standing, now, "答复", offer, PAID)
    if what.kind in {"refund", "partial", "reject"}:
        decision = Decision(what.kind)
        ruling = Ruling(decision, "理由", what.amount if decision is Decision.PARTIAL else None)
        text = rules.ruling_text(ruling)
        rules.check_decidable(standing)
        rules.check_payable(ruling, "open", PAID)
        paid = PAID if decision is Decision.REFUND else ruling.amount_fen
        return rules.decided(standing, now, ruling, text, paid, 1)
    if what.kind == "confirm":
        return rules.confirmed(standing, now)
    if what.kind == "reopen":
        return rules.reopened(standing, now, "不接受")
    return rules.escalated(standing, now)


def check(before: Standing, move: Move, now: datetime) -> None:
    """What holds after every step the rules allow."""
    after = move.standing
    assert before.is_open, "a closed dispute never moves again"
    if after.deadline_at is not None and after.deadline_at != before.deadline_at:
        assert after.deadline_at > now, "a new deadline is after the step"
        assert after.deadline_at.astimezone(SHANGHAI).time() == time(0)
        assert after.deadline_at - now <= timedelta(days=max(MEDIATION_DAYS, CONFIRM_DAYS) + 1)
    assert (after.owner is DisputeOwner.NOBODY) == (after.status is DisputeStatus.CONFIRMED)
    assert (after.closed_at is not None) == (after.status is DisputeStatus.CONFIRMED)
    assert (after.deadline_at is None) == (after.status is DisputeStatus.CONFIRMED)
    assert after.reopens <= MAX_REOPENS
    assert after.reopens >= before.reopens
    if after.status is DisputeStatus.REOPENED:
        assert move.step is Step.REOPENED or before.status is DisputeStatus.REOPENED
    expected_owner = {
        DisputeStatus.MEDIATION: {DisputeOwner.REGULATOR},
        DisputeStatus.DECIDED: {DisputeOwner.CONSUMER},
        DisputeStatus.REOPENED: {DisputeOwner.REGULATOR},
        DisputeStatus.FILED: {DisputeOwner.MERCHANT, DisputeOwner.REGULATOR},
        DisputeStatus.CONFIRMED: {DisputeOwner.NOBODY},
    }[after.status]
    assert after.owner in expected_owner
    if move.overdue is not None:
        assert move.step is Step.ESCALATED
        assert after.escalated_at == now


@settings(max_examples=300, deadline=None)
@given(start_minutes=st.integers(min_value=0, max_value=7 * 24 * 60), acts=st.lists(ACTS))
def test_any_sequence_of_allowed_steps_keeps_the_rules(start_minutes: int, acts: list[Act]) -> None:
    now = NOW + timedelta(minutes=start_minutes)
    standing = filed_at(now)
    assert standing.deadline_at is not None
    assert standing.deadline_at > now
    warned: set[str] = set()
    for what in acts:
        now += timedelta(minutes=what.minutes)
        refused: AppError | None = None
        try:
            move = act(standing, now, what)
        except AppError as exc:
            refused = exc
        if refused is not None:
            assert refused.code != "error", "every refusal has its own code"
            assert refused.params.get("paid_fen", PAID) == PAID
            continue
        if move is None:
            continue
        check(standing, move, now)
        if move.overdue is not None:
            assert move.overdue.key not in warned, "one warning per overdue step"
            warned.add(move.overdue.key)
        standing = move.standing


@settings(max_examples=200, deadline=None)
@given(
    amount=st.integers(min_value=-(10**6), max_value=10**6),
    paid=st.integers(min_value=0, max_value=10**6),
)
def test_no_money_above_what_was_paid_is_ever_asked_offered_or_decided(
    amount: int, paid: int
) -> None:
    """Whatever the amount: a step takes it if and only if it is within 0 (1 for a decision)
    and what was paid."""

    def decide() -> None:
        ruling = Ruling(Decision.PARTIAL, "x", amount)
        rules.ruling_text(ruling)
        rules.check_payable(ruling, "open", paid)

    steps = [
        (0, lambda: rules.filed(NOW, Complaint(DisputeKind.OTHER, "x", amount), paid)),
        (0, lambda: rules.answered(filed_at(), NOW, "x", amount, paid)),
        (1, decide),
    ]
    for lowest, step in steps:
        taken = True
        try:
            step()
        except Invalid:
            taken = False
        assert taken == (lowest <= amount <= paid)


@settings(max_examples=200, deadline=None)
@given(
    moment=st.datetimes(
        min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - made aware below
        max_value=datetime(2035, 12, 31),  # noqa: DTZ001
        timezones=st.just(UTC),
    ),
    days=st.integers(min_value=0, max_value=30),
)
def test_a_deadline_is_always_after_the_step_and_at_most_a_day_past_its_days(
    moment: datetime, days: int
) -> None:
    deadline = rules.deadline_after(moment, days)
    assert moment < deadline <= moment + timedelta(days=days + 1)
    assert deadline.astimezone(SHANGHAI).time() == time(0)


def test_a_defaulted_merchants_dispute_passes_to_the_regulator() -> None:
    later = NOW + timedelta(days=1)
    moved = rules.merchant_defaulted(filed_at(), later)
    assert moved is not None
    assert (moved.standing.status, moved.standing.owner) == (
        DisputeStatus.FILED,
        DisputeOwner.REGULATOR,
    )
    assert moved.standing.deadline_at == rules.deadline_after(later, MEDIATION_DAYS)
    assert moved.step is Step.MERCHANT_DEFAULTED
    rules.check_decidable(moved.standing)  # the regulator's to decide now
    # a dispute not waiting on the merchant stays as it is
    assert rules.merchant_defaulted(in_mediation(), later) is None


def test_a_closed_card_takes_only_a_rejection() -> None:
    assert rules.decisions_for("open") == (Decision.REFUND, Decision.PARTIAL, Decision.REJECT)
    for status in ("refunded", "defaulted"):
        assert rules.decisions_for(status) == (Decision.REJECT,)
        rules.check_payable(Ruling(Decision.REJECT, "r"), status, PAID)
        with pytest.raises(Conflict) as refused:
            rules.check_payable(Ruling(Decision.REFUND, "r"), status, PAID)
        assert code_of(refused) == f"dispute-card-{status}"
