"""Start-up wiring: every domain-event handler registered, once, before any event is raised.

Each area that reacts to another's events keeps its handlers in its own ``handlers`` module;
importing it here is what registers them (direct imports, so the layers check sees them).
``create_app``, the CLI and the tests call :func:`wire` first.

* :mod:`app.risk.handlers`: a sale or a registration queues the merchant for re-rating;
* :mod:`app.insurance.handlers`: activation needs a registered policy; overdue payables
  become a claim on it;
* :mod:`app.closures.handlers`: a card paid for late joins its merchant's closure;
* :mod:`app.cases.handlers`: a new warning about a merchant on a street becomes a case in
  its street office's list;
* :mod:`app.supervision.handlers`: ratings, records, complaints and custody shortfalls raise
  warnings and move grade actions.

The imports are made when :func:`wire` runs, not when this module is imported: the handlers
bring the use cases (and the scoring model's libraries) with them, which ``pguard --help``
does not need.
"""

from __future__ import annotations

from app.events import mark_wired


def wire() -> None:
    """Register every handler (idempotent: a module is imported once)."""
    from app.cases import handlers as cases  # noqa: PLC0415, F401 - registers
    from app.closures import handlers as closures  # noqa: PLC0415, F401 - registers
    from app.insurance import handlers as insurance  # noqa: PLC0415, F401 - registers
    from app.risk import handlers as risk  # noqa: PLC0415, F401 - registers
    from app.supervision import handlers as supervision  # noqa: PLC0415, F401 - registers

    mark_wired()
