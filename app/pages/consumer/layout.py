"""What every consumer page shares: the layout's helpers, the language switch, the sign-in."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

from litestar.params import QueryParameter

from app.i18n import gettext
from app.pages.render import back_to, lang_of, page, said_done
from escrow.models import EntryKind

if TYPE_CHECKING:
    from litestar import Request
    from litestar.response import Redirect, Template

CodeK = Annotated[str, QueryParameter(name="k", max_length=64)]
CodeS = Annotated[str, QueryParameter(name="s", max_length=200)]

CONSUMER_PAGE = {"page": True, "sign_in": "/login/phone"}
"""Errors render as pages; a signed-out visitor is asked for the phone sign-in."""
ENTRY_KINDS = frozenset(k.value for k in EntryKind)


def here(request: Request[Any, Any, Any]) -> str:
    """The path of this page with its query, for the language switch and the sign-in return."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def view(
    request: Request[Any, Any, Any],
    name: str,
    *,
    path: str | None = None,
    private: bool = False,
    **context: Any,  # noqa: ANN401
) -> Template:
    """A consumer page: the layout's helpers, the language switch back to ``path``."""
    lang = lang_of(request)
    rendered = page(
        request,
        name,
        path=path or here(request),
        op_label=lambda kind: gettext(lang, f"c_op_{kind}") if kind in ENTRY_KINDS else kind,
        **context,
    )
    if private:  # a card link, a live code: keep it out of caches and other sites' logs
        rendered.headers["Cache-Control"] = "no-store"
        rendered.headers["Referrer-Policy"] = "no-referrer"
    return rendered


def sign_in(request: Request[Any, Any, Any]) -> Redirect:
    """To the phone sign-in, and back here afterwards."""
    return back_to(f"/login/phone?next={quote(here(request), safe='')}")


def flash(request: Request[Any, Any, Any], done: str | None) -> str | None:
    """The line saying what the last post did (``?done=paid``)."""
    return said_done(lang_of(request), "c_done_", done)
