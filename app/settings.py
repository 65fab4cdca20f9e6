"""Settings read from the environment once, as typed dataclasses."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
"""The checkout the service runs from (it is installed in editable mode)."""


def _env(name: str, default: str) -> str:
    return os.environ.get(name, default)


ANY_INTERFACE = ("0.0.0.0", "::", "")  # noqa: S104 - names of "every interface", not a bind


def lan_address() -> str:
    """The machine's address on its network, or loopback on a machine with none.

    It is the source address of a route outwards; a UDP "connection" sends nothing.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def served_url(host: str, port: int | str) -> str:
    """Where a server bound to ``host:port`` is reached.

    Bound to every interface, it is reached at the machine's network address, so a phone on
    the same network can open what it prints.
    """
    if host in ANY_INTERFACE:
        host = lan_address()
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


@dataclass(frozen=True)
class DatabaseSettings:
    """Where PostgreSQL is."""

    url: str | None = field(default_factory=lambda: os.environ.get("DATABASE_URL") or None)
    """Any PostgreSQL server (``postgresql://…``); unset means the embedded one under var/."""
    embedded_dir: Path = field(
        default_factory=lambda: Path(_env("PGUARD_VAR_DIR", str(PROJECT_ROOT / "var"))) / "pgdata"
    )
    """Data directory of the embedded PostgreSQL, reused on the next start."""
    embedded_database: str = field(default_factory=lambda: _env("PGUARD_DB_NAME", "pguard"))
    """Database created inside the embedded server."""
    pool_size: int = field(default_factory=lambda: int(_env("PGUARD_DB_POOL_SIZE", "10")))
    """Connections each app process keeps open."""
    pre_ping: bool = field(default_factory=lambda: _env("PGUARD_DB_PRE_PING", "0") == "1")
    """Also test each pooled connection with a round trip before use (``1`` turns it on).

    Off by default: every checkout already refuses, at no cost, a connection whose server
    closed it (:func:`app.db.create_engine`), which is what a restart, a failover or a
    terminated backend leave behind, so the first request after one works. The round trip
    adds what only it can find, a server that vanished without closing anything, for about
    10% of a ledger operation's time (measured with ``bench/ledger.py``). A connection that
    fails anyway invalidates the whole pool, so the next checkout connects afresh.
    """
    echo: bool = field(default_factory=lambda: _env("PGUARD_DB_ECHO", "") == "1")
    """Log every SQL statement (development only)."""


@dataclass(frozen=True)
class ServerSettings:
    """How ``pguard run`` serves."""

    host: str = field(default_factory=lambda: _env("PGUARD_HOST", "127.0.0.1"))
    """Interface to bind."""
    port: int = field(default_factory=lambda: int(_env("PGUARD_PORT", "8000")))
    """Port to bind."""
    processes: int = field(default_factory=lambda: int(_env("PGUARD_PROCESSES", "1")))
    """Web processes sharing the port, at most one per core: a process runs its Python on
    one core (``bench/api_load.py --processes`` measures it). The background workers run in
    each process: they are safe to run in any number (:mod:`app.workers`)."""


@dataclass(frozen=True)
class LogSettings:
    """Structured logging."""

    level: str = field(default_factory=lambda: _env("PGUARD_LOG_LEVEL", "INFO"))
    """Minimum level of log lines."""
    json: bool = field(default_factory=lambda: _env("PGUARD_LOG_JSON", "") == "1")
    """One JSON object a line (production) instead of readable console lines."""


@dataclass(frozen=True)
class SecuritySettings:
    """Keys and sign-in limits."""

    master_key: str | None = field(default_factory=lambda: os.environ.get("PGUARD_MASTER_KEY"))
    """Base64 of 32 bytes; every secret at rest is encrypted under keys derived from it."""
    master_key_file: Path = field(
        default_factory=lambda: (
            Path(_env("PGUARD_VAR_DIR", str(PROJECT_ROOT / "var"))) / "master.key"
        )
    )
    """Where a generated master key is kept when ``PGUARD_MASTER_KEY`` is unset."""
    token_ttl_minutes: int = field(
        default_factory=lambda: int(_env("PGUARD_TOKEN_TTL_MINUTES", "720"))
    )
    """How long a sign-in lasts."""
    otp_ttl_seconds: int = field(default_factory=lambda: int(_env("PGUARD_OTP_TTL_SECONDS", "300")))
    """How long an SMS sign-in code works."""
    sign_in_limit: int = field(default_factory=lambda: int(_env("PGUARD_SIGN_IN_LIMIT", "10")))
    """Sign-in attempts per identity (user name, phone) from one address in one window; SMS
    codes texted to one phone in one window, from anywhere."""
    sign_in_account_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_SIGN_IN_ACCOUNT_LIMIT", "50"))
    )
    """Attempts on one identity from all addresses in one window; past it every attempt is
    answered ``sign_in_slow_seconds`` later, never refused (the owner still gets in)."""
    sign_in_slow_seconds: float = field(
        default_factory=lambda: float(_env("PGUARD_SIGN_IN_SLOW_SECONDS", "3"))
    )
    """The slower path's wait for an identity under attack from many addresses."""
    registration_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_REGISTRATION_LIMIT", "5"))
    )
    """Merchant registrations from one address in one registration window."""
    registration_window_seconds: int = field(
        default_factory=lambda: int(_env("PGUARD_REGISTRATION_WINDOW_SECONDS", "3600"))
    )
    """The registration limit's window."""
    sign_in_ip_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_SIGN_IN_IP_LIMIT", "100"))
    )
    """Sign-in attempts or code requests per client address in one window."""
    sign_in_window_seconds: int = field(
        default_factory=lambda: int(_env("PGUARD_SIGN_IN_WINDOW_SECONDS", "600"))
    )
    """The rate-limit window."""
    typed_code_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_TYPED_CODE_LIMIT", "120"))
    )
    """Typed redemption codes a merchant may try a minute: ample at a counter, hopeless for
    guessing someone's live six digits."""
    secure_cookies: bool = field(
        default_factory=lambda: (
            _env(
                "PGUARD_SECURE_COOKIES",
                "0" if _env("PGUARD_ENV", "development") == "development" else "1",
            )
            == "1"
        )
    )
    """Mark the session cookie ``Secure`` (sent over HTTPS only). On everywhere but local
    development (``PGUARD_ENV=development``), where the service is plain http on 127.0.0.1."""
    sms_sandbox: bool = field(default_factory=lambda: _env("PGUARD_SMS", "sandbox") == "sandbox")
    """Send SMS through the sandbox (codes kept for tests and logged); no real gateway yet."""


@dataclass(frozen=True)
class CardRules:
    """Limits of the 2012 prepaid-card rules (单用途商业预付卡管理办法), in fen.

    A deployment may lift the card limits (Hangzhou 2025 lets approved platforms exceed
    them); the checks stay, with the lifted figures.
    """

    registered_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_REGISTERED_CARD_LIMIT_FEN", "500000"))
    )
    """Most a registered (real-name) card may hold: ¥5,000."""
    anonymous_limit: int = field(
        default_factory=lambda: int(_env("PGUARD_ANONYMOUS_CARD_LIMIT_FEN", "100000"))
    )
    """Most an anonymous card may hold: ¥1,000."""
    real_name_threshold: int = field(
        default_factory=lambda: int(_env("PGUARD_REAL_NAME_THRESHOLD_FEN", "1000000"))
    )
    """A single purchase of this much (¥10,000) or more needs the buyer's real name."""
    anonymous_min_validity_days: int = 3 * 365 + 1
    """Anonymous cards last at least three years, a leap day included."""
    default_custody_ratio_bp: int = field(
        default_factory=lambda: int(_env("PGUARD_CUSTODY_RATIO_BP", "3000"))
    )
    """Share of each sale held in custody unless a measure raises it for a merchant."""
    payable_business_days: int = field(
        default_factory=lambda: int(_env("PGUARD_PAYABLE_BUSINESS_DAYS", "3"))
    )
    """Shanghai business days a merchant has to pay the part of a refund it owes; unpaid then,
    the part becomes a claim on its insurance policy."""
    closure_notice_days: int = field(
        default_factory=lambda: int(_env("PGUARD_CLOSURE_NOTICE_DAYS", "30"))
    )
    """Days of notice a closure or relocation gives every card holder (Shanghai and Beijing
    rules: 30); new sales stop the day it is filed."""
    emergency_notice_days: int = field(
        default_factory=lambda: int(_env("PGUARD_EMERGENCY_NOTICE_DAYS", "3"))
    )
    """Days a regulator's emergency transfer of a failing merchant's cards stays open before
    its default is declared."""
    public_base_url: str = field(
        default_factory=lambda: (
            _env("PGUARD_PUBLIC_URL", "")
            or served_url(_env("PGUARD_HOST", "127.0.0.1"), _env("PGUARD_PORT", "8000"))
        )
    )
    """Base of the URLs printed in counter QR codes: by default the address ``pguard run``
    serves (``PGUARD_HOST``, ``PGUARD_PORT``; on 0.0.0.0, this machine's network address), so
    a demo poster scans to this server. A deployment sets its public HTTPS address."""


@dataclass(frozen=True)
class WorkerSettings:
    """Background work inside ``pguard run``: re-rating merchants as their data changes."""

    in_process: bool = field(default_factory=lambda: _env("PGUARD_WORKERS", "on") != "off")
    """Run the workers inside the web process; ``off`` when they run as separate processes."""
    poll_seconds: float = field(
        default_factory=lambda: float(_env("PGUARD_WORKER_POLL_SECONDS", "0.25"))
    )
    """How often an idle worker looks for queued work."""


@dataclass(frozen=True)
class WarningSettings:
    """When a signal becomes a warning in the regulator's queue."""

    complaint_surge_factor: float = field(
        default_factory=lambda: float(_env("PGUARD_WARN_COMPLAINT_FACTOR", "3"))
    )
    """Complaints of the last 7 days at least this many times the weekly baseline..."""
    complaint_surge_minimum: int = field(
        default_factory=lambda: int(_env("PGUARD_WARN_COMPLAINT_MIN", "5"))
    )
    """...and at least this many (a quiet shop's two complaints are not a surge)."""
    sales_surge_pct: float = field(
        default_factory=lambda: float(_env("PGUARD_WARN_SALES_SURGE_PCT", "100"))
    )
    """Card sales of the last 30 days this many percent above the 90 days' monthly mean."""
    deep_discount_pct: float = field(
        default_factory=lambda: float(_env("PGUARD_WARN_DISCOUNT_PCT", "40"))
    )
    """A stored-value card sold at more than this discount off its face value."""


@dataclass(frozen=True)
class Settings:
    """All settings of one process."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    log: LogSettings = field(default_factory=LogSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)
    cards: CardRules = field(default_factory=CardRules)
    workers: WorkerSettings = field(default_factory=WorkerSettings)
    warnings: WarningSettings = field(default_factory=WarningSettings)
    environment: str = field(default_factory=lambda: _env("PGUARD_ENV", "development"))
    """``development`` or ``production``; production refuses every sandbox adapter."""
    payments: str = field(default_factory=lambda: _env("PGUARD_PAYMENTS", "sandbox"))
    """The payment provider; only ``sandbox`` exists so far, with its public pay page."""
    trusted_proxies: str = field(default_factory=lambda: _env("PGUARD_TRUSTED_PROXIES", ""))
    """Addresses or networks whose X-Forwarded-For is believed (the load balancers),
    comma-separated; none by default, so that no client can choose the address its sign-in
    attempts count against. Behind a load balancer, name it (``10.0.0.0/8``)."""
    webhook_private_addresses: bool = field(
        default_factory=lambda: (
            _env(
                "PGUARD_WEBHOOK_PRIVATE",
                "deny" if _env("PGUARD_ENV", "development") == "production" else "allow",
            )
            == "allow"
        )
    )
    """Whether insurers' webhook URLs may point at loopback or private addresses (``allow`` for
    development and tests; production denies them: an endpoint there could reach our own
    network) and plain http."""
    debug: bool = field(default_factory=lambda: _env("PGUARD_DEBUG", "") == "1")
    """Show tracebacks in error responses (never in production)."""


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment on first use."""
    return Settings()
