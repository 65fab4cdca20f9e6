"""Retire stored models of file format 2: this version rates with format 3 only.

Format 2 held boosted trees whose reasons cost ``2k`` model calls per merchant; format 3 is
the additive model (``scoring.model``). A format 2 model left active would make every rating
fail, so it is made inactive: ratings stay as they were, the merchants show their last grade,
and the operator activates a new model (``pguard scoring train … --indicator-directions``,
then ``pguard scoring activate``; the demo does it itself). The files are kept.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 00:40:00
"""

import io
import json
import zipfile
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CURRENT_FORMAT = 3


def _format(data: bytes) -> object:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return json.loads(archive.read("manifest.json")).get("format_version")
    except (zipfile.BadZipFile, KeyError, ValueError):
        return None


def upgrade() -> None:
    """Deactivate the active model if its file is not of the current format."""
    bind = op.get_bind()
    for version, data in bind.execute(
        sa.text("SELECT version, file FROM scoring_models WHERE active")
    ):
        if _format(bytes(data)) != CURRENT_FORMAT:
            bind.execute(
                sa.text("UPDATE scoring_models SET active = false WHERE version = :v"),
                {"v": version},
            )


def downgrade() -> None:
    """Nothing to undo: which model to activate again is the operator's choice."""
