"""Every error the application raises has a stable code and words in both languages.

Read from the source: each ``Invalid(...)`` (and every other application error) built names
its code as a literal, that code has a message ``error.<code>`` in the zh_CN and en
catalogues, and so does each code a form field points to. Pages and the API translate by
these codes, so a raise without one would reach a person as a bare id.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from app import exceptions
from app.i18n import message_ids

APP = Path(exceptions.__file__).parent
ERRORS = {
    name
    for name, value in vars(exceptions).items()
    if isinstance(value, type) and issubclass(value, exceptions.AppError)
}
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


def _raises() -> list[tuple[str, ast.Call]]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ERRORS:
                found.append((f"{path.relative_to(APP.parent)}:{node.lineno}", node))
    return found


RAISES = _raises()


def _codes(call: ast.Call) -> list[str | None]:
    """The codes a raise names: its first argument and each field's (``None``: not a literal)."""
    codes: list[str | None] = []
    if call.args:
        first = call.args[0]
        codes.append(first.value if isinstance(first, ast.Constant) else None)
    for keyword in call.keywords:
        if keyword.arg == "fields" and isinstance(keyword.value, ast.Dict):
            codes += [
                v.value if isinstance(v, ast.Constant) else None for v in keyword.value.values
            ]
    return codes


def test_the_source_raises_application_errors() -> None:
    assert len(RAISES) > 100


@pytest.mark.parametrize(("where", "call"), RAISES, ids=[w for w, _ in RAISES])
def test_each_raise_names_a_code_with_words(where: str, call: ast.Call) -> None:
    known = message_ids()
    for code in _codes(call):
        assert isinstance(code, str), f"{where}: the code must be a literal"
        assert CODE.match(code), f"{where}: {code!r} is not a code (English words?)"
        assert f"error.{code}" in known, f"{where}: no words for error.{code}"


def test_each_error_class_has_words() -> None:
    known = message_ids()
    missing = [name for name in ERRORS if f"error.{getattr(exceptions, name).code}" not in known]
    assert not missing
