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
from markupsafe import Markup, escape

from app.auth.principal import principal_of
from app.exceptions import AppError, NotFound
from app.i18n import (
    DEFAULT_LANG,
    LANG_COOKIE,
    LANGS,
    describe,
    facts,
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


@pass_context
def _warning_title(context: Context, warning: Any) -> str:  # noqa: ANN401 - a Warning row
    return facts.warning_title(
        warning.rule, warning.evidence, str(context.get("lang", DEFAULT_LANG))
    )


@pass_context
def _evidence(context: Context, warning: Any) -> list[facts.Said]:  # noqa: ANN401 - a Warning row
    return facts.evidence_items(
        warning.rule, warning.evidence, str(context.get("lang", DEFAULT_LANG))
    )


def _as_data(text: str) -> str:
    """Text a person or a feed gave, in no language of the page's: escaped, marked as data."""
    return f'<span translate="no">{escape(text)}</span>'


def _verbatim(text: object) -> Markup:
    """A name, a code or an id inside a sentence: shown as stored, in no language of its own.

    ``_("c_policy_no", number=verbatim(policy))``.
    """
    return Markup(_as_data(str(text)))  # noqa: S704 - _as_data escapes


@pass_context
def _cause(context: Context, cause: str | None) -> Markup:
    # safe: the words are the catalogue's, the given text is escaped by _as_data
    said = facts.cause_text(cause or "", str(context.get("lang", DEFAULT_LANG)), _as_data)
    return Markup(said)  # noqa: S704


@pass_context
def _provenance(context: Context, provenance: str | None) -> Markup:
    lang = str(context.get("lang", DEFAULT_LANG))
    return Markup(facts.provenance_text(provenance or "", lang, _as_data))  # noqa: S704


@pass_context
def _step_said(context: Context, event: Any) -> str:  # noqa: ANN401 - a DisputeEvent row
    return facts.step_said(event.step, event.facts, str(context.get("lang", DEFAULT_LANG)))


def environment() -> Environment:
    """The pages' Jinja environment: autoescaped, with gettext in the visitor's language.

    Templates say ``_("key", n=1)``, ``fen|yuan``, ``bp|share``, ``p|probability`` and
    ``when(moment)``; money, shares, probabilities and times follow Babel's rules. What the
    platform recorded as facts is said in the reader's language (:mod:`app.i18n.facts`):
    ``warning_title(w)``, ``evidence(w)``, ``step_said(event)``, ``cause|cause``,
    ``provenance|provenance``.
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
    env.globals["warning_title"] = _warning_title
    env.globals["evidence"] = _evidence
    env.globals["step_said"] = _step_said
    env.globals["verbatim"] = _verbatim
    env.filters["cause"] = _cause
    env.filters["provenance"] = _provenance
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
