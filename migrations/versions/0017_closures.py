"""Orderly closure: notices, holders' choices, successors, messages; cards that came over.

* ``closures``: a merchant's announced closure or relocation, or a regulator's emergency
  transfer of a failing merchant's cards (one announced at a time);
* ``successor_offers``: successors named with product-mapping terms, accepted once;
* ``closure_cards``: every open card at the notice, its holder's choice and its outcome;
* ``notifications``: each message to a holder (on the card's page, one text per holder),
  with its delivery status;
* a sales block of kind ``closing``, placed with the notice and never lifted;
* ``card_holders.order_id`` may be empty and ``transferred_from`` names the old card, for a
  card a successor took over.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 19:40:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BLOCKS = "'custody-shortfall', 'policy-ended', 'grade-review', 'hard-stop'"


def _blocks(kinds: str) -> None:
    op.execute("ALTER TABLE sales_blocks DROP CONSTRAINT ck_sales_blocks_kind")
    op.execute(
        f"ALTER TABLE sales_blocks ADD CONSTRAINT ck_sales_blocks_kind CHECK (kind IN ({kinds}))"
    )


def upgrade() -> None:
    _blocks(f"{BLOCKS}, 'closing'")
    op.execute("""
        ALTER TABLE card_holders ALTER COLUMN order_id DROP NOT NULL;
        ALTER TABLE card_holders ADD COLUMN transferred_from uuid
            CONSTRAINT fk_card_holders_transferred_from_card_holders
            REFERENCES card_holders (card_id);
        ALTER TABLE card_holders ADD CONSTRAINT uq_card_holders_transferred_from
            UNIQUE (transferred_from);
        ALTER TABLE card_holders ADD CONSTRAINT ck_card_holders_bought_or_moved
            CHECK (order_id IS NOT NULL OR transferred_from IS NOT NULL);

        CREATE TABLE closures (
            id uuid PRIMARY KEY,
            merchant_id uuid NOT NULL REFERENCES merchants (id),
            kind varchar(16) NOT NULL,
            status varchar(16) NOT NULL,
            closes_at timestamptz NOT NULL,
            reason text NOT NULL,
            filed_by uuid,
            filed_role varchar(16) NOT NULL,
            closed_at timestamptz,
            created_at timestamptz NOT NULL,
            CONSTRAINT ck_closures_kind CHECK (kind IN ('closure', 'relocation', 'emergency')),
            CONSTRAINT ck_closures_status CHECK (status IN ('announced', 'closed')),
            CONSTRAINT ck_closures_ahead CHECK (closes_at > created_at)
        );
        CREATE INDEX ix_closures_merchant_id ON closures (merchant_id);
        CREATE UNIQUE INDEX uq_closures_one_announced ON closures (merchant_id)
            WHERE status = 'announced';

        CREATE TABLE successor_offers (
            id uuid PRIMARY KEY,
            closure_id uuid NOT NULL REFERENCES closures (id),
            successor_id uuid NOT NULL REFERENCES merchants (id),
            terms jsonb NOT NULL,
            named_by uuid,
            accepted_at timestamptz,
            accepted_by uuid,
            created_at timestamptz NOT NULL,
            CONSTRAINT uq_successor_offers UNIQUE (closure_id, successor_id)
        );
        CREATE INDEX ix_successor_offers_closure_id ON successor_offers (closure_id);
        CREATE INDEX ix_successor_offers_successor_id ON successor_offers (successor_id);

        CREATE TABLE closure_cards (
            closure_id uuid NOT NULL REFERENCES closures (id),
            card_id uuid NOT NULL REFERENCES card_holders (card_id),
            consumer_id uuid REFERENCES consumers (id),
            choice varchar(16),
            offer_id uuid REFERENCES successor_offers (id),
            chosen_at timestamptz,
            outcome varchar(16),
            outcome_at timestamptz,
            refunded bigint,
            new_card_id uuid,
            CONSTRAINT pk_closure_cards PRIMARY KEY (closure_id, card_id),
            CONSTRAINT uq_closure_cards_card_id UNIQUE (card_id),
            CONSTRAINT ck_closure_cards_choice
                CHECK (choice IS NULL OR choice IN ('keep', 'refund', 'transfer', 'payout')),
            CONSTRAINT ck_closure_cards_outcome
                CHECK (outcome IS NULL OR outcome IN ('refunded', 'transferred', 'used_up', 'paid_out')),
            CONSTRAINT ck_closure_cards_transfer_offer
                CHECK ((choice = 'transfer') = (offer_id IS NOT NULL)),
            CONSTRAINT ck_closure_cards_new_card
                CHECK ((outcome = 'transferred') = (new_card_id IS NOT NULL))
        );

        CREATE TABLE notifications (
            id uuid PRIMARY KEY,
            closure_id uuid NOT NULL REFERENCES closures (id),
            channel varchar(8) NOT NULL,
            consumer_id uuid REFERENCES consumers (id),
            card_id uuid REFERENCES card_holders (card_id),
            status varchar(8) NOT NULL,
            attempts integer NOT NULL,
            sent_at timestamptz,
            provider_ref text,
            error text,
            created_at timestamptz NOT NULL,
            CONSTRAINT ck_notifications_channel CHECK (channel IN ('in_app', 'sms')),
            CONSTRAINT ck_notifications_status CHECK (status IN ('pending', 'sent', 'failed')),
            CONSTRAINT ck_notifications_sms_holder
                CHECK (channel <> 'sms' OR (consumer_id IS NOT NULL AND card_id IS NULL)),
            CONSTRAINT ck_notifications_in_app_card CHECK (channel <> 'in_app' OR card_id IS NOT NULL),
            CONSTRAINT uq_notifications UNIQUE NULLS NOT DISTINCT
                (closure_id, channel, consumer_id, card_id)
        );
        CREATE INDEX ix_notifications_closure_id ON notifications (closure_id);
        CREATE INDEX ix_notifications_consumer_id ON notifications (consumer_id);
        CREATE INDEX ix_notifications_card_id ON notifications (card_id);
        CREATE INDEX ix_notifications_pending ON notifications (created_at)
            WHERE status = 'pending';
    """)


def downgrade() -> None:
    op.execute("DELETE FROM sales_blocks WHERE kind = 'closing'")
    _blocks(BLOCKS)
    op.execute("""
        DROP TABLE notifications;
        DROP TABLE closure_cards;
        DROP TABLE successor_offers;
        DROP TABLE closures;
        ALTER TABLE card_holders DROP CONSTRAINT ck_card_holders_bought_or_moved;
        ALTER TABLE card_holders DROP COLUMN transferred_from;
        ALTER TABLE card_holders ALTER COLUMN order_id SET NOT NULL;
    """)
