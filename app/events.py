"""Domain events: what happened, handed to every interested area in the same transaction.

An area that changes something others care about (a rating moved, a record arrived, a
complaint was filed, a card was sold) publishes an event instead of calling those areas;
the areas that care register handlers. So ``risk`` need not know ``supervision`` exists,
and a handler's writes commit or roll back with the change that raised the event.

Handlers are registered when their modules are imported; :func:`app.wiring.wire` imports
them all, and :func:`publish` refuses to run before that, so no event is ever dropped
because a handler's module was not loaded.

A handler may refuse what happened by raising (a merchant activated without a registered
policy, overdue payables with no insurer to claim from): the error reaches the publisher and
the whole unit of work rolls back. The publishing area owns its events (``<area>/events.py``);
the reacting area owns the handlers (``<area>/handlers.py``) and so depends on the publisher,
never the other way round.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every domain event: a fact, named in the past tense."""


E = TypeVar("E", bound=Event)

_handlers: defaultdict[type[Event], list[Callable[[AsyncSession, Event], Awaitable[None]]]] = (
    defaultdict(list)
)
_wired = False


class NotWired(RuntimeError):
    """An event was published before the handlers were registered (a start-up mistake)."""


def handles(
    kind: type[E],
) -> Callable[
    [Callable[[AsyncSession, E], Awaitable[None]]], Callable[[AsyncSession, E], Awaitable[None]]
]:
    """Register the decorated coroutine as a handler of ``kind`` (and its subclasses)."""

    def register(
        handler: Callable[[AsyncSession, E], Awaitable[None]],
    ) -> Callable[[AsyncSession, E], Awaitable[None]]:
        if handler not in _handlers[kind]:
            _handlers[kind].append(handler)  # type: ignore[arg-type]
        return handler

    return register


def mark_wired() -> None:
    """Called by :func:`app.wiring.wire` once every handler module is imported."""
    global _wired  # noqa: PLW0603 - one registry per process, filled at start-up
    _wired = True


async def publish(session: AsyncSession, event: Event) -> None:
    """Run every handler of ``event`` now, inside the caller's transaction, in order."""
    if not _wired:
        msg = f"{type(event).__name__} published before app.wiring.wire() registered handlers"
        raise NotWired(msg)
    for kind in type(event).__mro__:
        for handler in _handlers.get(kind, ()):
            await handler(session, event)
