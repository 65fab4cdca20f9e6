"""Risk drives protection: sales blocks kept apart, grade actions per district, hard stops.

* ``sales_blocks``: why an active merchant may not sell, one row per block, lifted with a
  reason and kept; replaces ``merchants.sales_blocked`` (its text moves into a block).
* ``merchants.ratio_floor_bp``: a ratio raised by a regulator, below which the grade's
  ratio never takes new sales.
* ``grade_actions``: grade → custody ratio of new sales and sales allowed or held for review,
  versioned per district; the city's first version is the platform's default.
* measures taken by the platform itself (``grade-action``, no ``taken_by``); warnings of the
  exit path (capital cut, equity transfer, new legal representative).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 16:00:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RULES = (
    "'grade-drop', 'complaint-surge', 'sales-surge', 'deep-discount', 'custody-shortfall',"
    " 'hard-override', 'dispute-overdue', 'rating-failed'"
)
MEASURES = (
    "'raise-custody-ratio', 'lift-custody-ratio', 'suspend-sales', 'lift-suspension',"
    " 'declare-default'"
)
DEFAULT_ACTIONS = {
    "A": {"custody_ratio_bp": 2000, "sales": "allowed"},
    "B": {"custody_ratio_bp": 3000, "sales": "allowed"},
    "C": {"custody_ratio_bp": 4000, "sales": "allowed"},
    "D": {"custody_ratio_bp": 6000, "sales": "allowed"},
    "E": {"custody_ratio_bp": 10000, "sales": "review"},
}


def _check(table: str, column: str, values: str) -> None:
    name = f"ck_{table}_{column}"
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({column} IN ({values}))")


def upgrade() -> None:
    op.create_table(
        "sales_blocks",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("evidence", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.Uuid(), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('custody-shortfall', 'policy-ended', 'grade-review', 'hard-stop')",
            name=op.f("ck_sales_blocks_kind"),
        ),
        sa.CheckConstraint(
            "(lifted_at IS NULL) = (lift_reason IS NULL)",
            name=op.f("ck_sales_blocks_lifted_with_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_sales_blocks_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["lifted_by"], ["users.id"], name=op.f("fk_sales_blocks_lifted_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sales_blocks")),
    )
    op.create_index(
        "uq_sales_blocks_active",
        "sales_blocks",
        ["merchant_id", "kind"],
        unique=True,
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    op.execute("""
        INSERT INTO sales_blocks (id, merchant_id, kind, evidence, placed_at)
        SELECT gen_random_uuid(), id,
               CASE WHEN sales_blocked LIKE 'insurance policy %' THEN 'policy-ended'
                    ELSE 'custody-shortfall' END,
               jsonb_build_object('was', sales_blocked), now()
          FROM merchants WHERE sales_blocked IS NOT NULL
    """)
    op.drop_column("merchants", "sales_blocked")

    op.add_column("merchants", sa.Column("ratio_floor_bp", sa.Integer(), nullable=True))
    op.create_check_constraint(
        op.f("ck_merchants_floor"),
        "merchants",
        "ratio_floor_bp IS NULL OR ratio_floor_bp BETWEEN 0 AND 10000",
    )
    # A ratio a regulator raised and did not lift becomes the merchant's floor.
    op.execute("""
        UPDATE merchants m SET ratio_floor_bp = m.custody_ratio_bp
         WHERE (SELECT kind FROM measures x
                 WHERE x.merchant_id = m.id
                   AND x.kind IN ('raise-custody-ratio', 'lift-custody-ratio')
                 ORDER BY x.taken_at DESC LIMIT 1) = 'raise-custody-ratio'
    """)

    op.create_table(
        "grade_actions",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("actions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("version > 0", name=op.f("ck_grade_actions_version")),
        sa.CheckConstraint("char_length(reason) > 0", name=op.f("ck_grade_actions_reason")),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_grade_actions_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grade_actions")),
    )
    op.create_index(
        "uq_grade_actions_version", "grade_actions", ["district", "version"], unique=True
    )
    op.execute(
        sa.text(
            "INSERT INTO grade_actions (district, version, actions, reason, created_at)"
            " VALUES ('*', 1, CAST(:actions AS jsonb), :reason, now())"
        ).bindparams(
            actions=json.dumps(DEFAULT_ACTIONS),
            reason="the platform's default: A 20%, B 30%, C 40%, D 60%, E held for review",
        )
    )

    op.alter_column("measures", "taken_by", existing_type=sa.Uuid(), nullable=True)
    _check("measures", "kind", MEASURES + ", 'grade-action'")
    _check("warnings", "rule", RULES + ", 'exit-pattern'")


def downgrade() -> None:
    op.execute("DELETE FROM warnings WHERE rule = 'exit-pattern'")
    _check("warnings", "rule", RULES)
    op.execute("DELETE FROM measures WHERE kind = 'grade-action'")
    _check("measures", "kind", MEASURES)
    op.alter_column("measures", "taken_by", existing_type=sa.Uuid(), nullable=False)
    op.drop_index("uq_grade_actions_version", table_name="grade_actions")
    op.drop_table("grade_actions")
    op.drop_constraint(op.f("ck_merchants_floor"), "merchants", type_="check")
    op.drop_column("merchants", "ratio_floor_bp")
    op.add_column("merchants", sa.Column("sales_blocked", sa.Text(), nullable=True))
    op.execute("""
        UPDATE merchants m SET sales_blocked = b.kind
          FROM sales_blocks b WHERE b.merchant_id = m.id AND b.lifted_at IS NULL
    """)
    op.drop_index("uq_sales_blocks_active", table_name="sales_blocks")
    op.drop_table("sales_blocks")
