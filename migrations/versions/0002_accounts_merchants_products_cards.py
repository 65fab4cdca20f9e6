"""Accounts, merchants, industries, products, orders, card holders, contracts, QR keys.

Industries are configuration: seeded here with their cooling-off days (7 by default,
education and fitness included); a deployment changes them with a new migration.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 15:17:53.205173
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDUSTRIES = [
    ("fitness", "健身", "Fitness", 7),
    ("education", "教育培训", "Education and training", 7),
    ("beauty", "美容美发", "Beauty and hairdressing", 7),
    ("catering", "餐饮", "Restaurants", 7),
    ("car_wash", "洗车", "Car wash", 7),
    ("laundry", "洗衣", "Laundry", 7),
    ("retail", "零售", "Retail", 7),
    ("other", "其他", "Other", 7),
]


def upgrade() -> None:
    op.create_table(
        "consumers",
        sa.Column("phone_hash", sa.LargeBinary(), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=False),
        sa.Column("real_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_hash", sa.LargeBinary(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consumers")),
        sa.UniqueConstraint("phone_hash", name=op.f("uq_consumers_phone_hash")),
    )
    op.create_index(
        op.f("ix_consumers_id_number_hash"), "consumers", ["id_number_hash"], unique=False
    )
    op.create_table(
        "industries",
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name_zh", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("cooling_off_days", sa.Integer(), nullable=False),
        sa.CheckConstraint("cooling_off_days >= 0", name=op.f("ck_industries_cooling_off_days")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_industries")),
    )
    industries = sa.table(
        "industries",
        sa.column("code", sa.String),
        sa.column("name_zh", sa.Text),
        sa.column("name_en", sa.Text),
        sa.column("cooling_off_days", sa.Integer),
    )
    op.bulk_insert(
        industries,
        [
            {"code": code, "name_zh": zh, "name_en": en, "cooling_off_days": days}
            for code, zh, en, days in INDUSTRIES
        ],
    )
    op.create_table(
        "otp_codes",
        sa.Column("phone_hash", sa.LargeBinary(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_otp_codes")),
    )
    op.create_index(op.f("ix_otp_codes_phone_hash"), "otp_codes", ["phone_hash"], unique=False)
    op.create_table(
        "qr_keys",
        sa.Column("kid", sa.String(length=32), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("private_key_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'revoked')", name=op.f("ck_qr_keys_status")),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_qr_keys")),
    )
    op.create_table(
        "rate_limit_hits",
        sa.Column("bucket", sa.Text(), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "window_start", name=op.f("pk_rate_limit_hits")),
    )
    op.create_table(
        "sandbox_sms",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("phone_hash", sa.LargeBinary(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sandbox_sms")),
    )
    op.create_index(op.f("ix_sandbox_sms_phone_hash"), "sandbox_sms", ["phone_hash"], unique=False)
    op.create_table(
        "merchants",
        sa.Column("uscc", sa.String(length=18), nullable=False),
        sa.Column("legal_name", sa.Text(), nullable=False),
        sa.Column("industry", sa.String(length=32), nullable=False),
        sa.Column("district", sa.String(length=64), nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("custody_bank", sa.Text(), nullable=True),
        sa.Column("custody_account_enc", sa.LargeBinary(), nullable=True),
        sa.Column("policy_ref", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("custody_ratio_bp", sa.Integer(), nullable=False),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'active', 'suspended', 'defaulted', 'closed')",
            name=op.f("ck_merchants_status"),
        ),
        sa.CheckConstraint("char_length(uscc) = 18", name=op.f("ck_merchants_uscc")),
        sa.CheckConstraint("custody_ratio_bp BETWEEN 0 AND 10000", name=op.f("ck_merchants_ratio")),
        sa.ForeignKeyConstraint(
            ["industry"], ["industries.code"], name=op.f("fk_merchants_industry_industries")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_merchants")),
        sa.UniqueConstraint("uscc", name=op.f("uq_merchants_uscc")),
    )
    op.create_index(op.f("ix_merchants_district"), "merchants", ["district"], unique=False)
    op.create_table(
        "products",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("units", sa.BigInteger(), nullable=False),
        sa.Column("validity_days", sa.Integer(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind <> 'stored_value' OR price <= units", name=op.f("ck_products_price_within_face")
        ),
        sa.CheckConstraint("kind IN ('stored_value', 'sessions')", name=op.f("ck_products_kind")),
        sa.CheckConstraint("status IN ('active', 'retired')", name=op.f("ck_products_status")),
        sa.CheckConstraint("price > 0", name=op.f("ck_products_price")),
        sa.CheckConstraint("units > 0", name=op.f("ck_products_units")),
        sa.CheckConstraint(
            "validity_days IS NULL OR validity_days > 0", name=op.f("ck_products_validity")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_products_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
    )
    op.create_index(op.f("ix_products_merchant_id"), "products", ["merchant_id"], unique=False)
    op.create_table(
        "users",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=True),
        sa.Column("district", sa.String(length=64), nullable=True),
        sa.Column("organisation", sa.Text(), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role <> 'merchant' OR merchant_id IS NOT NULL", name=op.f("ck_users_merchant_staff")
        ),
        sa.CheckConstraint(
            "role IN ('merchant', 'regulator', 'insurer', 'operator')", name=op.f("ck_users_role")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_users_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_index(op.f("ix_users_merchant_id"), "users", ["merchant_id"], unique=False)
    op.create_table(
        "auth_tokens",
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("consumer_id", sa.Uuid(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(user_id IS NULL) <> (consumer_id IS NULL)", name=op.f("ck_auth_tokens_one_subject")
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_auth_tokens_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_auth_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_auth_tokens")),
    )
    op.create_index(
        op.f("ix_auth_tokens_consumer_id"), "auth_tokens", ["consumer_id"], unique=False
    )
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=True),
        sa.Column("anon_secret_hash", sa.LargeBinary(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("custody_ratio_bp", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("provider_order_id", sa.Text(), nullable=False),
        sa.Column("idempotency_scope", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.LargeBinary(), nullable=False),
        sa.Column("card_id", sa.Uuid(), nullable=True),
        sa.Column("real_name_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'paid', 'failed')", name=op.f("ck_orders_status")
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_orders_amount")),
        sa.CheckConstraint(
            "consumer_id IS NOT NULL OR anon_secret_hash IS NOT NULL",
            name=op.f("ck_orders_has_holder"),
        ),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_orders_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_orders_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_orders_product_id_products")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("anon_secret_hash", name=op.f("uq_orders_anon_secret_hash")),
        sa.UniqueConstraint("card_id", name=op.f("uq_orders_card_id")),
        sa.UniqueConstraint("idempotency_scope", "idempotency_key", name="uq_orders_idempotency"),
        sa.UniqueConstraint("provider_order_id", name=op.f("uq_orders_provider_order_id")),
    )
    op.create_index(op.f("ix_orders_consumer_id"), "orders", ["consumer_id"], unique=False)
    op.create_index(op.f("ix_orders_merchant_id"), "orders", ["merchant_id"], unique=False)
    op.create_table(
        "card_holders",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.Uuid(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("consumer_id", sa.Uuid(), nullable=True),
        sa.Column("anon_secret_hash", sa.LargeBinary(), nullable=True),
        sa.Column("registered", sa.Boolean(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consumer_id"], ["consumers.id"], name=op.f("fk_card_holders_consumer_id_consumers")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_card_holders_merchant_id_merchants")
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_card_holders_order_id_orders")
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_card_holders_product_id_products")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_card_holders")),
        sa.UniqueConstraint("anon_secret_hash", name=op.f("uq_card_holders_anon_secret_hash")),
        sa.UniqueConstraint("order_id", name=op.f("uq_card_holders_order_id")),
    )
    op.create_index(
        op.f("ix_card_holders_consumer_id"), "card_holders", ["consumer_id"], unique=False
    )
    op.create_index(
        op.f("ix_card_holders_merchant_id"), "card_holders", ["merchant_id"], unique=False
    )
    op.create_table(
        "payment_notifications",
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Text(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_notifications_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("provider", "event_id", name=op.f("pk_payment_notifications")),
    )
    op.create_index(
        op.f("ix_payment_notifications_order_id"),
        "payment_notifications",
        ["order_id"],
        unique=False,
    )
    op.create_table(
        "contracts",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("content", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sha256", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"], ["card_holders.card_id"], name=op.f("fk_contracts_card_id_card_holders")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_contracts_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("card_id", name=op.f("pk_contracts")),
    )
    op.create_index(op.f("ix_contracts_merchant_id"), "contracts", ["merchant_id"], unique=False)
    op.create_table(
        "redemption_codes",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("digits", sa.String(length=6), nullable=False),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("max_units", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_key", sa.Text(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["card_holders.card_id"],
            name=op.f("fk_redemption_codes_card_id_card_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_redemption_codes_merchant_id_merchants"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_redemption_codes")),
        sa.UniqueConstraint("nonce", name=op.f("uq_redemption_codes_nonce")),
    )
    op.create_index(
        op.f("ix_redemption_codes_card_id"), "redemption_codes", ["card_id"], unique=False
    )
    op.create_index(
        "ix_redemption_codes_merchant_digits", "redemption_codes", ["merchant_id", "digits"]
    )
    op.create_table(
        "refund_requests",
        sa.Column("card_id", sa.Uuid(), nullable=False),
        sa.Column("merchant_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("refunded", sa.BigInteger(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'accepted', 'refused')", name=op.f("ck_refund_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["card_id"],
            ["card_holders.card_id"],
            name=op.f("fk_refund_requests_card_id_card_holders"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchants.id"], name=op.f("fk_refund_requests_merchant_id_merchants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refund_requests")),
        sa.UniqueConstraint("card_id", "idempotency_key", name="uq_refund_requests_key"),
    )
    op.create_index(
        op.f("ix_refund_requests_card_id"), "refund_requests", ["card_id"], unique=False
    )
    op.create_index(
        op.f("ix_refund_requests_merchant_id"), "refund_requests", ["merchant_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_refund_requests_merchant_id"), table_name="refund_requests")
    op.drop_index(op.f("ix_refund_requests_card_id"), table_name="refund_requests")
    op.drop_table("refund_requests")
    op.drop_index("ix_redemption_codes_merchant_digits", table_name="redemption_codes")
    op.drop_index(op.f("ix_redemption_codes_card_id"), table_name="redemption_codes")
    op.drop_table("redemption_codes")
    op.drop_index(op.f("ix_contracts_merchant_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_index(op.f("ix_payment_notifications_order_id"), table_name="payment_notifications")
    op.drop_table("payment_notifications")
    op.drop_index(op.f("ix_card_holders_merchant_id"), table_name="card_holders")
    op.drop_index(op.f("ix_card_holders_consumer_id"), table_name="card_holders")
    op.drop_table("card_holders")
    op.drop_index(op.f("ix_orders_merchant_id"), table_name="orders")
    op.drop_index(op.f("ix_orders_consumer_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_auth_tokens_user_id"), table_name="auth_tokens")
    op.drop_index(op.f("ix_auth_tokens_consumer_id"), table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_index(op.f("ix_users_merchant_id"), table_name="users")
    op.drop_table("users")
    op.drop_index(op.f("ix_products_merchant_id"), table_name="products")
    op.drop_table("products")
    op.drop_index(op.f("ix_merchants_district"), table_name="merchants")
    op.drop_table("merchants")
    op.drop_index(op.f("ix_sandbox_sms_phone_hash"), table_name="sandbox_sms")
    op.drop_table("sandbox_sms")
    op.drop_table("rate_limit_hits")
    op.drop_table("qr_keys")
    op.drop_index(op.f("ix_otp_codes_phone_hash"), table_name="otp_codes")
    op.drop_table("otp_codes")
    op.drop_table("industries")
    op.drop_index(op.f("ix_consumers_id_number_hash"), table_name="consumers")
    op.drop_table("consumers")
