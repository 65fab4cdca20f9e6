"""Rendering pages: the Jinja environment, its helpers, and the checks every form post needs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.template.config import TemplateConfig

from app.auth.principal import principal_of
from app.exceptions import AppError, NotFound
from app.i18n import (
    DEFAULT_LANG,
    LANG_COOKIE,
    LANGS,
    describe,
    field_messages,
    gettext,
    has,
    locale_of,
    money,
    probability,
    share,
)
from app.i18n import when as when_in
from app.i18n.catalogues import translations

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Collection, Mapping
    from datetime import datetime

    from jinja2.runtime import Context
    from litestar import Request

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"

Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
"""A posted HTML form, every field a string."""
Done = Annotated[str | None, QueryParameter(name="done", max_length=32)]
"""What the last post did (``?done=created``), said in a line above the page: :func:`said_done`."""


@pass_context
def _gettext(context: Context, msgid: str) -> str:
    # the words unformatted: Jinja's newstyle gettext fills the placeholders, escaping them
    return translations(locale_of(str(context.get("lang", DEFAULT_LANG)))).ugettext(msgid)


@pass_context
def _ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    lang = str(context.get("lang", DEFAULT_LANG))
    return translations(locale_of(lang)).ungettext(singular, plural, n)


@pass_context
def _money(context: Context, fen: int | None) -> str:
    return money(fen, str(context.get("lang", DEFAULT_LANG)))


@pass_context
def _share(context: Context, bp: int | None) -> str:
    return share(bp, str(context.get("lang", DEFAULT_LANG)))


@pass_context
def _probability(context: Context, value: float | None) -> str:
    return probability(value, str(context.get("lang", DEFAULT_LANG)))


@pass_context
def _when(context: Context, moment: datetime | None) -> str:
    return when_in(moment, str(context.get("lang", DEFAULT_LANG)))


def environment() -> Environment:
    """The pages' Jinja environment: autoescaped, with gettext in the visitor's language.

    Templates say ``_("key", n=1)``, ``fen|yuan``, ``bp|share``, ``p|probability`` and
    ``when(moment)``; money, shares, probabilities and times follow Babel's rules.
    """
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_gettext, ngettext=_ngettext, newstyle=True
    )
    env.globals["when"] = _when
    env.filters["yuan"] = _money
    env.filters["share"] = _share
    env.filters["probability"] = _probability
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


def back_to(path: str, fallback: str = "/") -> Redirect:
    """Redirect after a post (303: the browser follows with GET); only to our own paths."""
    target = path if path.startswith("/") and not path.startswith("//") else fallback
    return Redirect(path=target, status_code=303)


def said_done(
    lang: str, prefix: str, done: str | None, allowed: Collection[str] | None = None
) -> str | None:
    """The line saying what the last post did: ``?done=created`` is message ``{prefix}created``.

    Only a ``done`` in ``allowed`` (without it, any that has a message) is said.
    """
    key = f"{prefix}{done}"
    known = has(key) if allowed is None else done in allowed
    return gettext(lang, key) if done and known else None


FORM = "_form"
"""Where the words of an error that names no field go (``macros.form_error`` shows them)."""


def refusal(
    exc: Exception,
    lang: str,
    *,
    default_field: str = FORM,
    rename: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A use case's refusal in ``lang``: words beside each field it names, else the whole.

    A field whose code has words of its own shows them (a short hint such as "required"), and
    then the whole error is also said for the form (``_form``), so the reader learns what was
    wrong and where; a field without words of its own shows the whole error. An error that
    names no field is said beside ``default_field``.
    """
    said = describe(exc, lang)
    fields: Mapping[str, str] = getattr(exc, "fields", None) or {}
    if not fields:
        return {default_field: said}
    rename = rename or {}
    beside = field_messages(exc, lang)
    shown = {
        rename.get(name, name): beside[name] if has(f"error.{code}") else said
        for name, code in fields.items()
    }
    if any(words != said for words in shown.values()):
        shown[FORM] = said
    return shown


async def run_form(
    request: Request[Any, Any, Any],
    use_case: Awaitable[object],
    *,
    done: str,
    again: Callable[[], Awaitable[dict[str, Any]]],
    name: str,
    row: object,
    data: Mapping[str, str],
    rename: Mapping[str, str] | None = None,
) -> Template | Redirect:
    """Run a row's form (its use case), then go to ``done``; refused, show page ``name`` again.

    ``again`` gathers the page's context; the template finds the refused form by ``row``: the
    words beside each field in ``errors[row]`` (:func:`refusal`, field names through
    ``rename``) and what was typed in ``values[row]``. "Not found" stays the 404 page.
    """
    try:
        await use_case
    except NotFound:
        raise
    except AppError as exc:
        context = await again()
        context["errors"] = {row: refusal(exc, lang_of(request), rename=rename)}
        context["values"] = {row: data}
        return page(request, name, **context)
    return back_to(done)
