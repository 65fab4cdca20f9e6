"""Counter codes point at the address the server is reached at, unless a deployment says."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from app.settings import CardRules, lan_address, served_url

if TYPE_CHECKING:
    import pytest


def test_a_bound_address_is_its_own_url() -> None:
    assert served_url("127.0.0.1", 8000) == "http://127.0.0.1:8000"
    assert served_url("192.168.1.20", "9000") == "http://192.168.1.20:9000"
    assert served_url("::1", 8000) == "http://[::1]:8000"


def test_every_interface_is_reached_at_this_machines_network_address() -> None:
    host = urlsplit(served_url("0.0.0.0", 8000)).hostname  # noqa: S104
    assert host == lan_address()
    assert not ipaddress.ip_address(host).is_unspecified


def test_the_counter_codes_follow_the_server_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PGUARD_PUBLIC_URL", raising=False)
    monkeypatch.setenv("PGUARD_HOST", "127.0.0.1")
    monkeypatch.setenv("PGUARD_PORT", "8123")
    assert CardRules().public_base_url == "http://127.0.0.1:8123"
    monkeypatch.setenv("PGUARD_PUBLIC_URL", "https://pguard.example.cn")
    assert CardRules().public_base_url == "https://pguard.example.cn"
