"""Revision 0014 parses the English sentences older dispute steps kept into facts.

A database at 0013 is given the notes the old rules wrote; after the upgrade each step holds
its facts and only what a person wrote is left in its note. A note no pattern knows is left
as it was.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from alembic import command
from sqlalchemy import create_engine, text

from app.db import alembic_config

if TYPE_CHECKING:
    from tests.conftest import Databases

OLD_NOTES = [
    ("filed", "not_delivered; asks ¥5.00 (500 fen)"),
    ("answered", "offers ¥1,200.00 (120000 fen). 已安排新教练.\n第二行"),
    ("answered", "不退"),
    ("decided", "refund of ¥800.00 (80000 fen) (ledger entry 12). 商户未提供服务"),
    ("decided", "the merchant owes ¥1.00 (100 fen) (ledger entry 47). 部分退款"),
    ("decided", "rejected, no payment. 证据不足"),
    ("escalated", "the merchant did not answer by 2026-01-05 00:00 (Shanghai time)"),
    ("escalated", "no decision was made by 2026-01-12 00:00 (Shanghai time)"),
    (
        "deemed-confirmed",
        "neither confirmed nor reopened by 2026-01-20 00:00 (Shanghai time): the decision stands",
    ),
    ("reopened", "还是不同意"),
]

MIDNIGHT_5TH = datetime(2026, 1, 4, 16, 0, tzinfo=UTC)
"""2026-01-05 00:00 in Shanghai."""


def test_old_step_notes_become_facts_and_the_persons_words(databases: Databases) -> None:
    url = databases.create(migrate=False)
    command.upgrade(alembic_config(url), "0013")
    engine = create_engine(url.replace("+psycopg_async", "+psycopg"))
    dispute = uuid.uuid4()
    with engine.begin() as conn:
        # the steps alone: the dispute, its card and merchant are not what this revision reads
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        for step, note in OLD_NOTES:
            conn.execute(
                text(
                    "INSERT INTO dispute_events (dispute_id, step, actor_role, note, at)"
                    " VALUES (:d, :step, 'system', :note, now())"
                ),
                {"d": dispute, "step": step, "note": note},
            )
    command.upgrade(alembic_config(url), "0014")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT step, facts, note FROM dispute_events ORDER BY id")).all()
    engine.dispose()
    found = [(step, facts, note) for step, facts, note in rows]
    deadline = found[6][1].pop("deadline")
    assert datetime.fromisoformat(deadline) == MIDNIGHT_5TH
    assert found[7][1].pop("deadline")
    assert found[8][1].pop("deadline")
    assert found == [
        ("filed", {"kind": "not_delivered", "asked_fen": 500}, None),
        ("answered", {"offer_fen": 120_000}, "已安排新教练.\n第二行"),
        ("answered", {}, "不退"),
        ("decided", {"decision": "refund", "amount_fen": 80_000, "entry": 12}, "商户未提供服务"),
        ("decided", {"decision": "partial", "amount_fen": 100, "entry": 47}, "部分退款"),
        ("decided", {"decision": "reject"}, "证据不足"),
        ("escalated", {"overdue": "answer"}, None),
        ("escalated", {"overdue": "decide"}, None),
        ("deemed-confirmed", {}, None),
        ("reopened", {}, "还是不同意"),
    ]
