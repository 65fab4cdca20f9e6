"""Purchases and redemptions written with django-hordak, a mature double-entry library.

The peer column of ``bench/ledger.py``, which runs this in a process of its own (Django wants
its settings before any import) on a fresh database of its own, migrated here by Django. Each
operation is what escrow writes, as hordak writes it: one ``Transaction`` and its ``Leg``
rows in one ``transaction.atomic()``, the legs inserted with one ``bulk_create`` (hordak's
fastest idiom), in CNY. A purchase has five legs: the consumer's payment credited, custody
and the merchant debited, the policy credited and the cards' cover debited. A redemption
has four: custody credited and the merchant debited, the cover credited and the policy
debited. Hordak's own PostgreSQL triggers check that every transaction balances (deferred to
COMMIT) and that legs match their accounts' currencies. One connection; merchants are taken
round-robin, as in the main bench. It prints one JSON line:
``{"hordak": "<version>", "ops_per_s": <float>, "transactions": <int>, "legs": <int>}``.

    python bench/peers/hordak_purchase.py URL --operation purchase|redeem --seconds S
                                          --warmup W --merchants N
"""

from __future__ import annotations

import argparse
import json
import time
from importlib.metadata import version
from urllib.parse import parse_qs, unquote, urlsplit

import django
from django.conf import settings


def configure(url: str) -> None:
    """Django settings for one PostgreSQL database and hordak, nothing else.

    ``url`` is a libpq URL; a server on a unix socket names its directory in ``?host=``.
    """
    parts = urlsplit(url)
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    settings.configure(
        DATABASES={
            "default": {
                "ENGINE": "django.db.backends.postgresql",
                "NAME": unquote(parts.path.lstrip("/")),
                "USER": unquote(parts.username or ""),
                "PASSWORD": unquote(parts.password or ""),
                "HOST": query.get("host") or parts.hostname or "",
                "PORT": query.get("port") or str(parts.port or ""),
                "CONN_MAX_AGE": None,
            }
        },
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "mptt",
            "djmoney",
            "hordak",
        ],
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        HORDAK_CURRENCIES=["CNY"],
        DEFAULT_CURRENCY="CNY",
        CURRENCIES=["CNY"],
    )
    django.setup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--operation", choices=("purchase", "redeem"), required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--merchants", type=int, required=True)
    args = parser.parse_args()
    configure(args.url)

    from django.core.management import call_command  # noqa: PLC0415 - after setup()
    from django.db import transaction  # noqa: PLC0415
    from djmoney.money import Money  # noqa: PLC0415
    from hordak.models import Account, Leg, Transaction  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    kinds = {"consumers": "IN", "custody": "AS", "merchant": "AS", "policy": "LI", "cover": "AS"}
    books = [
        {
            name: Account.objects.create(
                name=f"{m}-{name}", code=f"{m}{n}", type=kind, currencies=["CNY"]
            )
            for n, (name, kind) in enumerate(kinds.items())
        }
        for m in range(args.merchants)
    ]
    price, custody = Money(100, "CNY"), Money(30, "CNY")
    insured = price - custody

    unit, released = Money(1, "CNY"), Money("0.30", "CNY")  # 1 yuan used of a card

    def purchase(book: dict[str, Account]) -> None:
        with transaction.atomic():
            entry = Transaction.objects.create(description="purchase")
            Leg.objects.bulk_create(
                [
                    Leg(transaction=entry, account=book["consumers"], credit=price),
                    Leg(transaction=entry, account=book["custody"], debit=custody),
                    Leg(transaction=entry, account=book["merchant"], debit=insured),
                    Leg(transaction=entry, account=book["policy"], credit=insured),
                    Leg(transaction=entry, account=book["cover"], debit=insured),
                ]
            )

    def redeem(book: dict[str, Account]) -> None:
        with transaction.atomic():
            entry = Transaction.objects.create(description="redemption")
            Leg.objects.bulk_create(
                [
                    Leg(transaction=entry, account=book["custody"], credit=released),
                    Leg(transaction=entry, account=book["merchant"], debit=released),
                    Leg(transaction=entry, account=book["cover"], credit=unit - released),
                    Leg(transaction=entry, account=book["policy"], debit=unit - released),
                ]
            )

    operation = purchase if args.operation == "purchase" else redeem
    if args.operation == "redeem":  # cards to redeem from, bought before the clock starts
        for book in books:
            purchase(book)

    def run(seconds: float) -> tuple[int, float]:
        done, start = 0, time.perf_counter()
        while done == 0 or time.perf_counter() - start < seconds:
            operation(books[done % len(books)])
            done += 1
        return done, time.perf_counter() - start

    run(args.warmup)
    done, elapsed = run(args.seconds)
    print(
        json.dumps(
            {
                "hordak": version("django-hordak"),
                "django": version("django"),
                "ops_per_s": done / elapsed,
                "transactions": Transaction.objects.count(),
                "legs": Leg.objects.count(),
            }
        )
    )


if __name__ == "__main__":
    main()
