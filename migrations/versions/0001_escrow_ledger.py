"""Escrow ledger: books, accounts, cards, journal entries, postings, idempotency records.

The invariants of ``escrow.ledger`` that PostgreSQL can hold itself are installed here:
CHECKs on balances and card shares, a statement trigger that keeps account balances from the
postings, a deferred constraint trigger that rejects an unbalanced entry at COMMIT, and
triggers that reject UPDATE, DELETE and TRUNCATE of entries and postings.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = """
CREATE TABLE merchant_books (
    merchant_id uuid NOT NULL,
    status varchar(16) NOT NULL,
    seq bigint NOT NULL,
    head_hash bytea NOT NULL,
    opened_at timestamptz NOT NULL,
    CONSTRAINT pk_merchant_books PRIMARY KEY (merchant_id),
    CONSTRAINT ck_merchant_books_status CHECK (status IN ('open', 'defaulted')),
    CONSTRAINT ck_merchant_books_seq CHECK (seq >= 0),
    CONSTRAINT ck_merchant_books_head_hash CHECK (octet_length(head_hash) = 32)
);

CREATE TABLE accounts (
    merchant_id uuid NOT NULL,
    kind varchar(32) NOT NULL,
    ledger varchar(8) NOT NULL,
    balance bigint NOT NULL,
    CONSTRAINT pk_accounts PRIMARY KEY (merchant_id, kind),
    CONSTRAINT uq_accounts_kind_ledger UNIQUE (merchant_id, kind, ledger),
    CONSTRAINT fk_accounts_merchant_id_merchant_books FOREIGN KEY (merchant_id)
        REFERENCES merchant_books (merchant_id),
    CONSTRAINT ck_accounts_kind CHECK (kind IN ('consumers', 'custody', 'merchant',
        'merchant_receivable', 'refunds_payable', 'insurer', 'policy', 'cards_cover',
        'claims_pending')),
    CONSTRAINT ck_accounts_ledger CHECK (ledger IN ('money', 'cover')),
    CONSTRAINT ck_accounts_non_negative CHECK (
        kind NOT IN ('custody', 'merchant_receivable', 'cards_cover', 'claims_pending')
        OR balance >= 0),
    CONSTRAINT ck_accounts_non_positive CHECK (
        kind NOT IN ('policy', 'refunds_payable') OR balance <= 0)
);

CREATE TABLE cards (
    id uuid NOT NULL,
    merchant_id uuid NOT NULL,
    kind varchar(16) NOT NULL,
    status varchar(16) NOT NULL,
    paid bigint NOT NULL,
    units_total bigint NOT NULL,
    units_remaining bigint NOT NULL,
    custody_ratio_bp integer NOT NULL,
    outstanding bigint NOT NULL,
    custody_share bigint NOT NULL,
    insured_share bigint NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT pk_cards PRIMARY KEY (id),
    CONSTRAINT uq_cards_merchant_id UNIQUE (merchant_id, id),
    CONSTRAINT fk_cards_merchant_id_merchant_books FOREIGN KEY (merchant_id)
        REFERENCES merchant_books (merchant_id),
    CONSTRAINT ck_cards_kind CHECK (kind IN ('stored_value', 'sessions')),
    CONSTRAINT ck_cards_status CHECK (status IN ('open', 'refunded', 'defaulted')),
    CONSTRAINT ck_cards_paid CHECK (paid > 0),
    CONSTRAINT ck_cards_units_total CHECK (units_total > 0),
    CONSTRAINT ck_cards_units_remaining CHECK (units_remaining BETWEEN 0 AND units_total),
    CONSTRAINT ck_cards_ratio CHECK (custody_ratio_bp BETWEEN 0 AND 10000),
    CONSTRAINT ck_cards_outstanding CHECK (outstanding BETWEEN 0 AND paid),
    CONSTRAINT ck_cards_insured_share CHECK (insured_share >= 0),
    CONSTRAINT ck_cards_shares_add_up CHECK (custody_share + insured_share = outstanding),
    CONSTRAINT ck_cards_custody_is_ceil_of_ratio
        CHECK (custody_share = (outstanding * custody_ratio_bp + 9999) / 10000)
);

CREATE TABLE journal_entries (
    merchant_id uuid NOT NULL,
    seq bigint NOT NULL,
    kind varchar(32) NOT NULL,
    card_id uuid,
    units bigint,
    idempotency_key text NOT NULL,
    created_at timestamptz NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL,
    CONSTRAINT pk_journal_entries PRIMARY KEY (merchant_id, seq),
    CONSTRAINT fk_journal_entries_merchant_id_merchant_books FOREIGN KEY (merchant_id)
        REFERENCES merchant_books (merchant_id),
    CONSTRAINT fk_journal_entries_merchant_id_cards FOREIGN KEY (merchant_id, card_id)
        REFERENCES cards (merchant_id, id),
    CONSTRAINT ck_journal_entries_kind CHECK (kind IN ('purchase', 'redemption', 'refund',
        'receivable_settlement', 'default_payout')),
    CONSTRAINT ck_journal_entries_seq CHECK (seq > 0),
    CONSTRAINT ck_journal_entries_units CHECK (units IS NULL OR units > 0),
    CONSTRAINT ck_journal_entries_prev_hash CHECK (octet_length(prev_hash) = 32),
    CONSTRAINT ck_journal_entries_hash CHECK (octet_length(hash) = 32)
);

CREATE TABLE postings (
    merchant_id uuid NOT NULL,
    seq bigint NOT NULL,
    line integer NOT NULL,
    account varchar(32) NOT NULL,
    ledger varchar(8) NOT NULL,
    card_id uuid,
    amount bigint NOT NULL,
    CONSTRAINT pk_postings PRIMARY KEY (merchant_id, seq, line),
    CONSTRAINT fk_postings_merchant_id_journal_entries FOREIGN KEY (merchant_id, seq)
        REFERENCES journal_entries (merchant_id, seq),
    CONSTRAINT fk_postings_merchant_id_accounts FOREIGN KEY (merchant_id, account, ledger)
        REFERENCES accounts (merchant_id, kind, ledger),
    CONSTRAINT fk_postings_merchant_id_cards FOREIGN KEY (merchant_id, card_id)
        REFERENCES cards (merchant_id, id),
    CONSTRAINT ck_postings_amount_non_zero CHECK (amount <> 0),
    CONSTRAINT ck_postings_per_card_accounts_name_card CHECK (
        account NOT IN ('custody', 'cards_cover', 'claims_pending') OR card_id IS NOT NULL)
);
CREATE INDEX ix_postings_card ON postings (merchant_id, card_id);

CREATE TABLE idempotency_records (
    merchant_id uuid NOT NULL,
    key text NOT NULL,
    operation varchar(32) NOT NULL,
    request_hash bytea NOT NULL,
    result jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    CONSTRAINT pk_idempotency_records PRIMARY KEY (merchant_id, key),
    CONSTRAINT fk_idempotency_records_merchant_id_merchant_books FOREIGN KEY (merchant_id)
        REFERENCES merchant_books (merchant_id)
);
"""

TRIGGERS = """
-- Account balances are the running sum of their postings, kept by PostgreSQL itself.
CREATE FUNCTION ledger_apply_postings() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts a
       SET balance = a.balance + n.total
      FROM (SELECT merchant_id, account, sum(amount) AS total
              FROM new_postings GROUP BY merchant_id, account) n
     WHERE a.merchant_id = n.merchant_id AND a.kind = n.account;
    RETURN NULL;
END $$;
CREATE TRIGGER postings_apply AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_apply_postings();

-- An entry whose postings do not sum to zero on every ledger fails at COMMIT.
CREATE FUNCTION ledger_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    SELECT ledger, sum(amount) AS total INTO off
      FROM postings
     WHERE merchant_id = NEW.merchant_id AND seq = NEW.seq
     GROUP BY ledger HAVING sum(amount) <> 0
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unbalanced journal entry %/%: % ledger is off by %',
            NEW.merchant_id, NEW.seq, off.ledger, off.total
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER postings_balanced AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_balanced();

-- The journal is append-only: corrections are new entries.
CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused; correct a mistake with a new entry',
        TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'integrity_constraint_violation';
END $$;
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION ledger_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
"""


def upgrade() -> None:
    op.execute(TABLES)
    op.execute(TRIGGERS)


def downgrade() -> None:
    op.execute("""
        DROP TABLE idempotency_records;
        DROP TABLE postings;
        DROP TABLE journal_entries;
        DROP TABLE cards;
        DROP TABLE accounts;
        DROP TABLE merchant_books;
        DROP FUNCTION ledger_append_only();
        DROP FUNCTION ledger_check_balanced();
        DROP FUNCTION ledger_apply_postings();
    """)
