"""Cards moved with their money to a successor merchant's book.

Escrow:

* two entry kinds, ``transfer_out`` (the closing merchant's book releases the card's custody
  share and insured cover) and ``transfer_in`` (the successor's book takes the card at its own
  custody ratio, under its own policy);
* a ``transfers`` account on every book (money ledger) holding the custody money sent to or
  received from other books, so each book still balances on its own and over all books the
  account sums to zero;
* a card status ``transferred``;
* ``card_transfers``: the link between a card's old and new ids, append-only like the journal.

The downgrade fails, correctly, once a transfer is on the books: the journal is append-only.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ENTRY_KINDS = (
    "'purchase', 'redemption', 'refund', 'receivable_settlement', 'default_payout',"
    " 'claim_payment', 'compensation', 'payable_netting', 'payable_claim'"
)
ACCOUNTS = (
    "'consumers', 'custody', 'merchant', 'merchant_receivable', 'refunds_payable', 'insurer',"
    " 'policy', 'cards_cover', 'claims_pending', 'payables_cover'"
)
CARD_STATUSES = "'open', 'refunded', 'defaulted'"


def _replace(table: str, name: str, check: str) -> None:
    op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {name}")
    op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} CHECK ({check})")


def upgrade() -> None:
    _replace(
        "journal_entries",
        "ck_journal_entries_kind",
        f"kind IN ({ENTRY_KINDS}, 'transfer_out', 'transfer_in')",
    )
    _replace("accounts", "ck_accounts_kind", f"kind IN ({ACCOUNTS}, 'transfers')")
    _replace("cards", "ck_cards_status", f"status IN ({CARD_STATUSES}, 'transferred')")
    op.execute("""
        INSERT INTO accounts (merchant_id, kind, ledger, balance)
        SELECT merchant_id, 'transfers', 'money', 0 FROM merchant_books
        ON CONFLICT DO NOTHING;

        CREATE TABLE card_transfers (
            from_card_id uuid NOT NULL,
            from_merchant_id uuid NOT NULL,
            from_seq bigint NOT NULL,
            to_merchant_id uuid NOT NULL,
            to_card_id uuid NOT NULL,
            to_seq bigint NOT NULL,
            amount bigint NOT NULL,
            created_at timestamptz NOT NULL,
            CONSTRAINT pk_card_transfers PRIMARY KEY (from_card_id),
            CONSTRAINT uq_card_transfers_to_card_id UNIQUE (to_card_id),
            CONSTRAINT fk_card_transfers_from_merchant_id_cards
                FOREIGN KEY (from_merchant_id, from_card_id) REFERENCES cards (merchant_id, id),
            CONSTRAINT fk_card_transfers_to_merchant_id_cards
                FOREIGN KEY (to_merchant_id, to_card_id) REFERENCES cards (merchant_id, id),
            CONSTRAINT fk_card_transfers_from_merchant_id_journal_entries
                FOREIGN KEY (from_merchant_id, from_seq)
                REFERENCES journal_entries (merchant_id, seq),
            CONSTRAINT fk_card_transfers_to_merchant_id_journal_entries
                FOREIGN KEY (to_merchant_id, to_seq) REFERENCES journal_entries (merchant_id, seq),
            CONSTRAINT ck_card_transfers_two_books CHECK (from_merchant_id <> to_merchant_id),
            CONSTRAINT ck_card_transfers_amount CHECK (amount > 0)
        );
        CREATE INDEX ix_card_transfers_to ON card_transfers (to_merchant_id);
        CREATE TRIGGER card_transfers_append_only BEFORE UPDATE OR DELETE ON card_transfers
            FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER card_transfers_no_truncate BEFORE TRUNCATE ON card_transfers
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
    """)


def downgrade() -> None:
    op.execute("DROP TABLE card_transfers")
    op.execute("DELETE FROM accounts WHERE kind = 'transfers'")
    _replace("cards", "ck_cards_status", f"status IN ({CARD_STATUSES})")
    _replace("accounts", "ck_accounts_kind", f"kind IN ({ACCOUNTS})")
    _replace("journal_entries", "ck_journal_entries_kind", f"kind IN ({ENTRY_KINDS})")
