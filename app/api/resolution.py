"""A merchant's resolution pack over the API: one signed ZIP, for its regulator or insurer."""

from __future__ import annotations

import uuid

from litestar import Controller, get
from litestar.params import FromPath
from litestar.response import Response

from app.auth.principal import requires
from app.deps import Db, Me
from app.resolution import pack


class ResolutionPackController(Controller):
    """``GET /merchants/{id}/resolution-pack``: build, sign, record and hand over the pack."""

    path = "/merchants/{merchant_id:uuid}/resolution-pack"
    tags = ["resolution"]  # noqa: RUF012
    guards = [requires(*pack.TAKERS)]  # noqa: RUF012

    @get("/", media_type="application/zip")
    async def download(self, db: Db, me: Me, merchant_id: FromPath[uuid.UUID]) -> Response[bytes]:
        """The pack as of now: holders and cards, custody, policy, claims, payables, proof.

        Regulators of the merchant's district and the operator get holders' contact details
        in full; the merchant's insurer gets them masked. Anyone else: 404.
        """
        built = await pack.build(db, me, merchant_id)
        return Response(
            built.data,
            media_type="application/zip",
            headers={
                "Content-Disposition": f'attachment; filename="{built.filename}"',
                "Cache-Control": "no-store",
                "X-Manifest-SHA256": built.manifest_sha256,
            },
        )
