"""Rendering pages: the Jinja environment, its helpers, and the checks every form post needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from app.auth.principal import principal_of
from app.exceptions import Forbidden
from app.pages.i18n import DEFAULT_LANG, LANG_COOKIE, LANGS, translate

if TYPE_CHECKING:
    from jinja2.runtime import Context
    from litestar import Request

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"


def yuan(fen: int | None) -> str:
    """Fen shown as yuan with two decimals and thousands separators: 123456 -> ¥1,234.56."""
    if fen is None:
        return "—"
    sign = "-" if fen < 0 else ""
    whole, part = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole:,}.{part:02d}"


@pass_context
def _t(context: Context, key: str, **values: Any) -> str:  # noqa: ANN401
    return translate(str(context.get("lang", DEFAULT_LANG)), key, **values)


def environment() -> Environment:
    """The pages' Jinja environment: autoescaped, with ``t`` and the money filter."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["t"] = _t
    env.filters["yuan"] = yuan
    return env


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """For ``Litestar(template_config=...)``."""
    return TemplateConfig(instance=JinjaTemplateEngine.from_environment(environment()))


def lang_of(request: Request[Any, Any, Any]) -> str:
    """The visitor's language: ``?lang=``, else the cookie, else Chinese."""
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
    return asked if asked in LANGS else DEFAULT_LANG


def page(request: Request[Any, Any, Any], name: str, **context: Any) -> Template:  # noqa: ANN401
    """Render ``name`` with the language, the caller and the path every layout needs."""
    return Template(
        template_name=name,
        context={
            "lang": lang_of(request),
            "me": principal_of(request),
            "path": request.url.path,
            **context,
        },
        media_type="text/html",
    )


def same_origin(request: Request[Any, Any, Any]) -> None:
    """Refuse a form post from another site (with the SameSite cookie, a second lock)."""
    origin = request.headers.get("origin") or request.headers.get("referer")
    if origin is None:
        return  # not a browser post (a test client, curl): the cookie is the only credential
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise Forbidden("this form was posted from another site")


def back_to(path: str, fallback: str = "/") -> Redirect:
    """Redirect after a post (303: the browser follows with GET); only to our own paths."""
    target = path if path.startswith("/") and not path.startswith("//") else fallback
    return Redirect(path=target, status_code=303)
