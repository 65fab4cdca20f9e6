"""Every table the application owns, for Alembic's autogenerate and ``alembic check``."""

from __future__ import annotations

from app.auth import models as auth_models
from app.base import Base
from app.cards import models as card_models
from app.cases import models as case_models
from app.closures import models as closure_models
from app.custody import models as custody_models
from app.insurance import models as insurance_models
from app.merchants import models as merchant_models
from app.outbox import models as outbox_models
from app.payables import models as payable_models
from app.payments import models as payment_models
from app.qrcodes import models as qr_models
from app.resolution import models as resolution_models
from app.risk import models as risk_models
from app.supervision import models as supervision_models
from escrow import metadata as escrow_metadata

target_metadata = [escrow_metadata, Base.metadata]

__all__ = [
    "auth_models",
    "card_models",
    "case_models",
    "closure_models",
    "custody_models",
    "insurance_models",
    "merchant_models",
    "outbox_models",
    "payable_models",
    "payment_models",
    "qr_models",
    "resolution_models",
    "risk_models",
    "supervision_models",
    "target_metadata",
]
