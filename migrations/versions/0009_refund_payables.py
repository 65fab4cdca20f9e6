"""Every refund reaches its consumer whole: refund payables, their settlement and claims.

Escrow:

* ``payables``: what a merchant owes one consumer after a refund or a dispute decision, with
  its deadline; append-only like the journal.
* ``postings.payable_seq``: the payable a leg creates, settles or claims (hashed into the
  chain only when set, so earlier entries keep their hashes); a ``payables_cover`` account
  per book holds the insurer's cover of what merchants still owe; two entry kinds,
  ``payable_netting`` (withheld from sales) and ``payable_claim`` (claimed at the deadline).

Application: merchants' payments of what they owe (``payable_payments``; the provider's
notifications may now be about one), and claims of a second kind, ``refund-payable``, whose
lines may name a payable.

Refunds and compensations booked before this revision keep their receivable without a
payable: ``verify`` still balances them, and the README says how to load the demo afresh.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_KINDS = (
    "'purchase', 'redemption', 'refund', 'receivable_settlement', 'default_payout',"
    " 'claim_payment', 'compensation'"
)
ACCOUNTS = (
    "'consumers', 'custody', 'merchant', 'merchant_receivable', 'refunds_payable', 'insurer',"
    " 'policy', 'cards_cover', 'claims_pending'"
)
NON_NEGATIVE = "'custody', 'merchant_receivable', 'cards_cover', 'claims_pending'"
PER_CARD = "'custody', 'cards_cover', 'claims_pending'"


def _replace(table: str, name: str, check: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")


def upgrade() -> None:
    _replace(
        "journal_entries",
        "ck_journal_entries_kind",
        f"kind IN ({ENTRY_KINDS}, 'payable_netting', 'payable_claim')",
    )
    _replace("accounts", "ck_accounts_kind", f"kind IN ({ACCOUNTS}, 'payables_cover')")
    _replace(
        "accounts",
        "ck_accounts_non_negative",
        f"kind NOT IN ({NON_NEGATIVE}, 'payables_cover') OR balance >= 0",
    )
    op.execute("""
        INSERT INTO accounts (merchant_id, kind, ledger, balance)
        SELECT merchant_id, 'payables_cover', 'cover', 0 FROM merchant_books
        ON CONFLICT DO NOTHING
    """)
    op.execute("""
        CREATE TABLE payables (
            merchant_id uuid NOT NULL,
            seq bigint NOT NULL,
            card_id uuid NOT NULL,
            kind varchar(16) NOT NULL,
            amount bigint NOT NULL,
            custody_paid bigint NOT NULL,
            due_at timestamptz NOT NULL,
            CONSTRAINT pk_payables PRIMARY KEY (merchant_id, seq),
            CONSTRAINT fk_payables_merchant_id_journal_entries FOREIGN KEY (merchant_id, seq)
                REFERENCES journal_entries (merchant_id, seq),
            CONSTRAINT fk_payables_merchant_id_cards FOREIGN KEY (merchant_id, card_id)
                REFERENCES cards (merchant_id, id),
            CONSTRAINT ck_payables_kind CHECK (kind IN ('refund', 'compensation')),
            CONSTRAINT ck_payables_amount CHECK (amount > 0)
        );
        CREATE INDEX ix_payables_due ON payables (due_at);
        CREATE TRIGGER payables_append_only BEFORE UPDATE OR DELETE ON payables
            FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER payables_no_truncate BEFORE TRUNCATE ON payables
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();

        ALTER TABLE postings ADD COLUMN payable_seq bigint;
        ALTER TABLE postings ADD CONSTRAINT fk_postings_merchant_id_payables
            FOREIGN KEY (merchant_id, payable_seq) REFERENCES payables (merchant_id, seq)
            DEFERRABLE INITIALLY DEFERRED;
        CREATE INDEX ix_postings_payable ON postings (merchant_id, payable_seq)
            WHERE payable_seq IS NOT NULL;
        ALTER TABLE postings ADD CONSTRAINT ck_postings_payables_cover_names_payable
            CHECK (account <> 'payables_cover' OR payable_seq IS NOT NULL);
    """)
    _replace(
        "postings",
        "ck_postings_per_card_accounts_name_card",
        f"account NOT IN ({PER_CARD}, 'payables_cover') OR card_id IS NOT NULL",
    )

    op.create_table(
        "payable_payments",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_order_id", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("settled_fen", sa.BigInteger(), nullable=False),
        sa.Column("excess_fen", sa.BigInteger(), nullable=False),
        sa.Column("ledger_seq", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'failed')", name=op.f("ck_payable_payments_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payable_payments_amount")),
        sa.CheckConstraint(
            "settled_fen >= 0 AND excess_fen >= 0", name=op.f("ck_payable_payments_split")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_payable_payments_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payable_payments")),
        sa.UniqueConstraint("merchant_id", "idempotency_key", name="uq_payable_payments_key"),
        sa.UniqueConstraint(
            "provider_order_id", name=op.f("uq_payable_payments_provider_order_id")
        ),
    )
    op.create_index(
        op.f("ix_payable_payments_merchant_id"), "payable_payments", ["merchant_id"], unique=False
    )
    op.alter_column("payment_notifications", "order_id", existing_type=sa.Uuid(), nullable=True)
    op.add_column("payment_notifications", sa.Column("payment_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        op.f("fk_payment_notifications_payment_id_payable_payments"),
        "payment_notifications",
        "payable_payments",
        ["payment_id"],
        ["id"],
    )
    op.create_index(
        op.f("ix_payment_notifications_payment_id"),
        "payment_notifications",
        ["payment_id"],
        unique=False,
    )
    op.create_check_constraint(
        op.f("ck_payment_notifications_about_one_payment"),
        "payment_notifications",
        "(order_id IS NULL) <> (payment_id IS NULL)",
    )

    op.add_column(
        "claims",
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="default"),
    )
    op.alter_column("claims", "kind", server_default=None)
    op.create_check_constraint(
        op.f("ck_claims_kind"), "claims", "kind IN ('default', 'refund-payable')"
    )
    op.alter_column("claims", "default_seq", new_column_name="ledger_seq")
    op.drop_constraint(op.f("uq_claims_merchant_id"), "claims", type_="unique")
    op.create_index(
        "uq_claims_default_merchant",
        "claims",
        ["merchant_id"],
        unique=True,
        postgresql_where=sa.text("kind = 'default'"),
    )
    op.create_index("ix_claims_merchant", "claims", ["merchant_id"], unique=False)
    op.drop_constraint(op.f("pk_claim_cards"), "claim_cards", type_="primary")
    op.add_column(
        "claim_cards",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
    )
    op.create_primary_key(op.f("pk_claim_cards"), "claim_cards", ["id"])
    op.add_column("claim_cards", sa.Column("payable_seq", sa.BigInteger(), nullable=True))
    op.create_index(
        "uq_claim_cards_line",
        "claim_cards",
        ["claim_id", "card_id", "payable_seq"],
        unique=True,
        postgresql_nulls_not_distinct=True,
    )


def downgrade() -> None:
    op.drop_index("uq_claim_cards_line", table_name="claim_cards")
    op.drop_column("claim_cards", "payable_seq")
    op.drop_constraint(op.f("pk_claim_cards"), "claim_cards", type_="primary")
    op.drop_column("claim_cards", "id")
    op.create_primary_key(op.f("pk_claim_cards"), "claim_cards", ["claim_id", "card_id"])
    op.drop_index("ix_claims_merchant", table_name="claims")
    op.drop_index("uq_claims_default_merchant", table_name="claims")
    op.create_unique_constraint(op.f("uq_claims_merchant_id"), "claims", ["merchant_id"])
    op.alter_column("claims", "ledger_seq", new_column_name="default_seq")
    op.drop_constraint(op.f("ck_claims_kind"), "claims", type_="check")
    op.drop_column("claims", "kind")

    op.drop_constraint(
        op.f("ck_payment_notifications_about_one_payment"), "payment_notifications", type_="check"
    )
    op.drop_index(op.f("ix_payment_notifications_payment_id"), table_name="payment_notifications")
    op.drop_constraint(
        op.f("fk_payment_notifications_payment_id_payable_payments"),
        "payment_notifications",
        type_="foreignkey",
    )
    op.drop_column("payment_notifications", "payment_id")
    op.alter_column("payment_notifications", "order_id", existing_type=sa.Uuid(), nullable=False)
    op.drop_index(op.f("ix_payable_payments_merchant_id"), table_name="payable_payments")
    op.drop_table("payable_payments")

    _replace(
        "postings",
        "ck_postings_per_card_accounts_name_card",
        f"account NOT IN ({PER_CARD}) OR card_id IS NOT NULL",
    )
    op.execute("""
        ALTER TABLE postings DROP CONSTRAINT ck_postings_payables_cover_names_payable;
        DROP INDEX ix_postings_payable;
        ALTER TABLE postings DROP CONSTRAINT fk_postings_merchant_id_payables;
        ALTER TABLE postings DROP COLUMN payable_seq;
        DROP TABLE payables;
        DELETE FROM accounts WHERE kind = 'payables_cover';
    """)
    _replace(
        "accounts", "ck_accounts_non_negative", f"kind NOT IN ({NON_NEGATIVE}) OR balance >= 0"
    )
    _replace("accounts", "ck_accounts_kind", f"kind IN ({ACCOUNTS})")
    _replace("journal_entries", "ck_journal_entries_kind", f"kind IN ({ENTRY_KINDS})")
