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
from app.i18n.catalogues import LOCALES, translations

APP = Path(exceptions.__file__).parent
ERRORS = {
    name
    for name, value in vars(exceptions).items()
    if isinstance(value, type) and issubclass(value, exceptions.AppError)
}
CODE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _literals(node: ast.AST) -> list[str]:
    """The strings a dict literal or a constant holds (a code table's values)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Dict):
        return [v.value for v in node.values if isinstance(v, ast.Constant)]
    return []


class _Reader(ast.NodeVisitor):
    """Each application error built, with the codes it can name.

    A code is a literal, a local name bound to a literal just before (``code = "..."``), or
    a module-level table of literals (``_BLANK[what]``); anything else is reported as ``None``.
    """

    def __init__(self, where: str, module: ast.Module) -> None:
        self.where = where
        self.tables = {
            target.id: _literals(node.value)
            for node in module.body
            if isinstance(node, ast.Assign)
            for target in node.targets
            if isinstance(target, ast.Name) and isinstance(node.value, ast.Dict)
        }
        self.local: dict[str, list[str]] = {}
        self.found: list[tuple[str, list[str | None], set[str] | None]] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        outer, self.local = self.local, {}
        self.generic_visit(node)
        self.local = outer

    visit_AsyncFunctionDef = visit_FunctionDef  # noqa: N815

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name) and _literals(node.value):
                self.local[target.id] = _literals(node.value)
        self.generic_visit(node)

    def _codes(self, node: ast.expr) -> list[str | None]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return [node.value]
        if isinstance(node, ast.Name) and node.id in self.local:
            return list(self.local[node.id])
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and self.tables.get(node.value.id)
        ):
            return list(self.tables[node.value.id])
        return [None]

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name in ERRORS:
            codes: list[str | None] = self._codes(node.args[0]) if node.args else []
            for keyword in node.keywords:
                if keyword.arg == "fields" and isinstance(keyword.value, ast.Dict):
                    for value in keyword.value.values:
                        codes += self._codes(value)
            given = {k.arg for k in node.keywords if k.arg and k.arg != "fields"}
            if any(k.arg is None for k in node.keywords):
                given = None  # ``**params``: what it holds is known only when it runs
            self.found.append((f"{self.where}:{node.lineno}", codes, given))
        self.generic_visit(node)


def _raises() -> list[tuple[str, list[str | None], set[str] | None]]:
    found = []
    for path in sorted(APP.rglob("*.py")):
        module = ast.parse(path.read_text(), filename=str(path))
        reader = _Reader(str(path.relative_to(APP.parent)), module)
        reader.visit(module)
        found += reader.found
    return found


RAISES = _raises()


def test_the_source_raises_application_errors() -> None:
    assert len(RAISES) > 100


def _placeholders(msgid: str) -> set[str]:
    """The parameters the words of ``msgid`` ask for, in any language."""
    return {
        name
        for locale in LOCALES.values()
        for name in PLACEHOLDER.findall(translations(locale).ugettext(msgid))
    }


@pytest.mark.parametrize(("where", "codes", "given"), RAISES, ids=[w for w, _, _ in RAISES])
def test_each_raise_names_a_code_with_words(
    where: str, codes: list[str | None], given: set[str] | None
) -> None:
    known = message_ids()
    for code in codes:
        assert isinstance(code, str), f"{where}: the code must be a literal"
        assert CODE.match(code), f"{where}: {code!r} is not a code (English words?)"
        assert f"error.{code}" in known, f"{where}: no words for error.{code}"
        if given is not None:
            missing = _placeholders(f"error.{code}") - given
            assert not missing, f"{where}: error.{code} needs {sorted(missing)}"


def test_each_error_class_has_words() -> None:
    known = message_ids()
    missing = [name for name in ERRORS if f"error.{getattr(exceptions, name).code}" not in known]
    assert not missing
