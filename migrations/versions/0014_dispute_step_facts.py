"""A dispute step keeps what it did as data, so each reader sees it in their own language.

A step's ``note`` held a machine-made English sentence ("not_delivered; asks ¥5.00 (500 fen)",
"refund of ¥8.00 (800 fen) (ledger entry 12). <reasons>") beside what a person wrote. The
sentence's facts move to ``facts`` (JSON: the kind and sum asked, the offer, the decision and
its ledger entry, the deadline missed) and ``note`` keeps only the person's words. Rows
written before are parsed here by the patterns that wrote them; a row that matches none is
left as it was.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = r"¥[0-9,.]+ \(([0-9]+) fen\)"
SHANGHAI_MINUTE = r"([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}) \(Shanghai time\)"

BACKFILL = [
    # step, pattern of the old note, facts (SQL over the match m), the note kept
    (
        "filed",
        rf"^(\w+); asks {MONEY}$",
        "jsonb_build_object('kind', m[1], 'asked_fen', m[2]::bigint)",
        "NULL",
    ),
    (
        "answered",
        rf"^offers {MONEY}\. (.*)$",
        "jsonb_build_object('offer_fen', m[1]::bigint)",
        "m[2]",
    ),
    (
        "decided",
        rf"^refund of {MONEY} \(ledger entry ([0-9]+)\)\. (.*)$",
        "jsonb_build_object('decision', 'refund', 'amount_fen', m[1]::bigint, 'entry', m[2]::bigint)",
        "m[3]",
    ),
    (
        "decided",
        rf"^the merchant owes {MONEY} \(ledger entry ([0-9]+)\)\. (.*)$",
        "jsonb_build_object('decision', 'partial', 'amount_fen', m[1]::bigint, 'entry', m[2]::bigint)",
        "m[3]",
    ),
    (
        "decided",
        r"^rejected, no payment\. (.*)$",
        "jsonb_build_object('decision', 'reject')",
        "m[1]",
    ),
    (
        "deemed-confirmed",
        rf"^neither confirmed nor reopened by {SHANGHAI_MINUTE}: the decision stands$",
        "jsonb_build_object('deadline', (m[1] || ' Asia/Shanghai')::timestamptz)",
        "NULL",
    ),
    (
        "escalated",
        rf"^the merchant did not answer by {SHANGHAI_MINUTE}$",
        "jsonb_build_object('overdue', 'answer', 'deadline', (m[1] || ' Asia/Shanghai')::timestamptz)",
        "NULL",
    ),
    (
        "escalated",
        rf"^no decision was made by {SHANGHAI_MINUTE}$",
        "jsonb_build_object('overdue', 'decide', 'deadline', (m[1] || ' Asia/Shanghai')::timestamptz)",
        "NULL",
    ),
]


def upgrade() -> None:
    op.add_column(
        "dispute_events",
        sa.Column("facts", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
    )
    for step, pattern, facts, note in BACKFILL:
        op.execute(
            sa.text(
                f"UPDATE dispute_events e SET facts = {facts}, note = {note}"  # noqa: S608 - constants
                " FROM (SELECT id, regexp_match(note, :pattern, 's') AS m FROM dispute_events"
                "       WHERE step = :step) found"
                " WHERE e.id = found.id AND found.m IS NOT NULL"
            ).bindparams(pattern=pattern, step=step)
        )


def downgrade() -> None:
    op.drop_column("dispute_events", "facts")
