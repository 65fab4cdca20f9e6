"""Start-up wiring: every domain-event handler registered, once, before any event is raised.

Each area that reacts to another's events keeps its handlers in its own ``handlers`` module;
importing it here is what registers them (direct imports, so the layers check sees them).
``create_app``, the CLI and the tests call :func:`wire` first.
"""

from __future__ import annotations

from app.events import mark_wired


def wire() -> None:
    """Register every handler (idempotent: a module is imported once)."""
    mark_wired()
