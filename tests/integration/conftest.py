"""Fixtures for tests on PostgreSQL."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.integration.books import Books

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker


@pytest.fixture
def books(sessions: async_sessionmaker[AsyncSession]) -> Books:
    return Books(sessions)
