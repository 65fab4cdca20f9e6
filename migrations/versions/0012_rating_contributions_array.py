"""A rating's contributions as an array in feature order, not a JSON object.

A batch writes a hundred thousand ratings at once: 21 numbers each as one ``float8[]`` (in the
order of ``scoring.FEATURES``, which every live model reads, in order) instead of a JSON object
repeating 21 names. The API still shows them by name.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 01:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FEATURES = (
    "registration_status",
    "registration_age_years",
    "registration_capital_change",
    "registration_abnormal_operations",
    "registration_licence_revoked",
    "registration_deregistration_filed",
    "tax_arrears_fen",
    "tax_filing_gap_months",
    "court_enforcement_cases",
    "court_dishonest_debtor",
    "credit_public_rating",
    "credit_penalties",
    "social_security_headcount",
    "social_security_contribution_gap_months",
    "bank_inflow_trend_pct",
    "bank_frozen",
    "complaints_count_30d",
    "complaints_count_7d",
    "sales_surge_pct",
    "sales_max_discount_pct",
    "sales_outstanding_to_revenue",
)
"""``scoring.FEATURES`` when this revision was written: the array's order."""


def upgrade() -> None:
    """Each contribution in its feature's place (0 where the object had none)."""
    elements = ", ".join(f"coalesce((contributions->>'{f}')::float8, 0)" for f in FEATURES)
    op.execute(
        "ALTER TABLE ratings ALTER COLUMN contributions TYPE double precision[]"
        f" USING ARRAY[{elements}]"
    )


def downgrade() -> None:
    """Back to an object of feature name to contribution."""
    pairs = ", ".join(f"'{f}', contributions[{i + 1}]" for i, f in enumerate(FEATURES))
    op.execute(
        "ALTER TABLE ratings ALTER COLUMN contributions TYPE jsonb"
        f" USING jsonb_build_object({pairs})"
    )
