"""How uvicorn serves the app: ``pguard run``, and the tests that serve it on a port."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import uvicorn

from app.settings import get_settings

if TYPE_CHECKING:
    from litestar import Litestar


def server_config(app: Litestar | str, *, host: str, port: int, **options: Any) -> uvicorn.Config:  # noqa: ANN401
    """Uvicorn's settings for the app (an instance, or ``module:factory`` with ``factory=True``).

    uvicorn writes no access log: its line carries the raw path and query, where an
    anonymous card's link can be; the app writes one line a request with secrets taken out
    (:func:`app.logging.request_id_middleware`). ``X-Forwarded-For`` is believed only from
    the configured proxies (none by default), so a client cannot pick the address its sign-in
    attempts are counted against.
    """
    proxies = get_settings().trusted_proxies.strip()
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        **options,
    )
