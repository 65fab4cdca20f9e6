"""The domain packages' errors carry a stable code and parameters, and the app has their words.

``escrow``, ``qr`` and ``scoring`` know nothing of languages: each error has a ``code`` (the
message id ``error.<code>``) and ``params``. These tests hold the two sides together: every
class and every ``code=`` written at a raise site has words in Chinese and English, and the
words ask only for parameters the raise site gives.
"""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import escrow
import escrow.errors
import qr
import qr.errors
import scoring
import scoring.errors
from app.i18n import describe, message_ids
from app.i18n.catalogues import LOCALES, translations

if TYPE_CHECKING:
    from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("escrow", "qr", "scoring")
KEBAB = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")

CLASSES: dict[str, type[Exception]] = {
    name: cls
    for module in (escrow.errors, qr.errors, scoring.errors)
    for name, cls in inspect.getmembers(module, inspect.isclass)
    if issubclass(cls, Exception) and cls.__module__ == module.__name__
}
IMPLIED = {"BadStatement": {"line"}}
"""Parameters a class sets itself, whatever the raise site passes."""


def _words(code: str) -> dict[str, str]:
    return {loc: translations(loc).ugettext(f"error.{code}") for loc in LOCALES.values()}


def test_every_domain_error_class_has_its_own_code_with_words() -> None:
    assert len(CLASSES) > 30  # the three packages' errors were found
    codes = [cls.code for cls in CLASSES.values()]  # type: ignore[attr-defined]
    assert len(set(codes)) == len(codes), "two classes share a code"
    known = message_ids()
    for name, cls in CLASSES.items():
        code = cls.code  # type: ignore[attr-defined]
        assert KEBAB.match(code), name
        assert f"error.{code}" in known, f"{name}: no words for error.{code} in every language"
        needed = {p for text in _words(code).values() for p in PLACEHOLDER.findall(text)}
        assert needed <= IMPLIED.get(name, set()), f"{name}: its words need {needed}"


def test_a_domain_error_keeps_its_message_and_holds_its_parameters() -> None:
    card = escrow.InsufficientBalance(
        "the card has 5 units left; 8 cannot be redeemed",
        code="card-value-short",
        balance_fen=5_000,
        asked_fen=8_000,
    )
    assert str(card) == "the card has 5 units left; 8 cannot be redeemed"
    assert card.code == "card-value-short"
    assert card.params == {"balance_fen": 5_000, "asked_fen": 8_000}
    assert escrow.InsufficientBalance("short").code == "insufficient-balance"
    assert escrow.InsufficientBalance("short").params == {}
    statement = escrow.BadStatement(3, "the account is empty", code="statement-no-account")
    assert str(statement) == "statement line 3: the account is empty"
    assert statement.params == {"line": 3}
    assert str(qr.ExpiredCode()) == qr.ExpiredCode.default_message
    assert qr.ExpiredCode(reason="log only").params == {}
    data = scoring.BadData("no such file", path="a.csv", code="csv-missing")
    assert str(data) == "a.csv: no such file"
    assert (data.code, data.params) == ("csv-missing", {"path": "a.csv"})


def test_words_come_by_code_with_money_in_each_language() -> None:
    short = escrow.InsufficientBalance(
        "the card has 5000 units left; 8000 cannot be redeemed",
        code="card-value-short",
        balance_fen=5_000,
        asked_fen=8_000,
    )
    assert describe(short, "zh") == "卡内余额只剩 ¥50.00，不能核销 ¥80.00"
    assert describe(short, "en") == "the card has only CN¥50.00 left; CN¥80.00 cannot be redeemed"
    sessions = escrow.InsufficientBalance(
        "the card has 3 units left; 5 cannot be redeemed",
        code="card-sessions-short",
        sessions_left=3,
        sessions_asked=5,
    )
    assert describe(sessions, "zh") == "卡内只剩 3 次，不能核销 5 次"
    assert describe(qr.ExpiredCode(), "en") == qr.ExpiredCode.default_message
    assert "过期" in describe(qr.ExpiredCode(), "zh")


def _calls() -> Iterator[tuple[str, int, str, ast.Call]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if not isinstance(node, ast.Call):
                    continue
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
                if name in CLASSES:
                    yield f"{package}/{path.name}", node.lineno, name, node


def _codes_at(name: str, call: ast.Call) -> set[str]:
    """The codes a call can raise: its ``code=`` constants, or its class's code."""
    given = next((kw.value for kw in call.keywords if kw.arg == "code"), None)
    if given is None:
        return {CLASSES[name].code}  # type: ignore[attr-defined]
    constants = [c.value for c in ast.walk(given) if isinstance(c, ast.Constant)]
    codes = {c for c in constants if isinstance(c, str)}
    if None in constants:
        codes.add(CLASSES[name].code)  # type: ignore[attr-defined]
    return codes


RAISED = [pytest.param(name, call, id=f"{where}:{line}") for where, line, name, call in _calls()]


def test_raise_sites_were_found() -> None:
    assert len(RAISED) > 100  # the three packages' raise sites


@pytest.mark.parametrize(("name", "call"), RAISED)
def test_each_raise_site_has_words_that_ask_only_for_what_it_gives(
    name: str, call: ast.Call
) -> None:
    known = message_ids()
    given = {kw.arg for kw in call.keywords if kw.arg is not None} | IMPLIED.get(name, set())
    open_ended = any(kw.arg is None for kw in call.keywords)  # **params: not checkable here
    for code in _codes_at(name, call):
        assert KEBAB.match(code), code
        assert f"error.{code}" in known, f"no words for error.{code} in every language"
        if open_ended:
            continue
        for locale, text in _words(code).items():
            needed = set(PLACEHOLDER.findall(text))
            assert needed <= given, f"error.{code} ({locale}) needs {needed - given}"
