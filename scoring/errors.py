"""The scoring package's errors: plain exceptions, no HTTP codes or exit codes (``app`` maps them).

Each message is written for the person who sees it: what is wrong, where (file, line, column)
and, where it helps, what to do instead. Each error also carries a stable ``code`` and the
``params`` its words need, so the app translates it by code (``error.<code>``); a class raised
for several distinct situations gets a more specific ``code=`` at the raise site.
"""

from __future__ import annotations


class ScoringError(Exception):
    """Base of every error the scoring package raises on purpose."""

    code = "scoring-error"
    """Stable machine-readable name: the problem type and the message id ``error.<code>``."""

    def __init__(self, message: str, /, *, code: str | None = None, **params: object) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code
        self.params: dict[str, object] = dict(params)
        """What a person needs to read: file, line, column, counts, names."""


class BadData(ScoringError):
    """A CSV, a column or a label cannot be used as it is; nothing was fitted or scored."""

    code = "bad-data"

    def __init__(
        self,
        message: str,
        /,
        *,
        path: str | None = None,
        line: int | None = None,
        column: str | None = None,
        code: str | None = None,
        **params: object,
    ) -> None:
        where = [] if path is None else [path]
        if line is not None:
            where.append(f"line {line}")
        if column is not None:
            where.append(f"column {column!r}")
        located = {"path": path, "line": line, "column": column}
        params.update({name: value for name, value in located.items() if value is not None})
        said = f"{', '.join(where)}: {message}" if where else message
        super().__init__(said, code=code, **params)
        self.path = path
        self.line = line
        self.column = column


class BadSettings(ScoringError):
    """A model setting (monotone direction, folds, calibration method) is not allowed."""

    code = "bad-settings"


class ModelFileRefused(ScoringError):
    """A model file is not one of ours, was changed after saving, or holds types we do not load."""

    code = "model-file-refused"


class CannotWrite(ScoringError):
    """An output file or directory cannot be written; nothing was left half-written."""

    code = "cannot-write"
