"""What every console page shares: where it lives, who may see it, how a refusal is shown."""

from __future__ import annotations

from litestar import Controller

from app.auth.models import Role
from app.auth.principal import requires


class ConsolePages(Controller):
    """Base of the merchant's own pages under ``/console`` (each area adds its routes)."""

    path = "/console"
    include_in_schema = False
    guards = [requires(Role.MERCHANT)]  # noqa: RUF012
    opt = {"page": True}  # noqa: RUF012 - errors render as pages (app.errors)
