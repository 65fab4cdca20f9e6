"""The consumer's pages: from the counter QR to a card, its use, its refund and complaints.

Mobile first (375 px), server-rendered, Chinese by default. Every page calls the same use
cases as the API (``app.cards``, ``app.supervision.disputes``), so the rules are the API's,
and says their errors by code (``describe``, ``field_messages``) in the visitor's language.

* :mod:`.merchant`: what a scanned counter code opens (``/q/…`` for a browser), or a warning;
* :mod:`.buy`: buying a card, the sandbox provider's pay page, the "paid" page;
* :mod:`.mine`: a signed-in consumer's cards and complaints (``/my/…``);
* :mod:`.card_link`: an anonymous card through its secret link (``/card/{secret}``);
* :mod:`.cards` and :mod:`.complaints`: what both do on a card's page, :mod:`.reach` which
  card that is, :mod:`.layout` what every page shares.
"""

from app.pages.consumer.buy import BuyPages, sandbox_pay_page
from app.pages.consumer.card_link import AnonymousCardPages
from app.pages.consumer.merchant import merchant_page
from app.pages.consumer.mine import MyPages

CONSUMER_PAGES = (BuyPages, MyPages, AnonymousCardPages)
"""Listed in ``app.pages.routes``; the merchant page itself is served by ``/q/…``."""
SANDBOX_PAGES = (sandbox_pay_page,)
"""Mounted only with the sandbox payment provider (``PGUARD_PAYMENTS=sandbox``)."""

__all__ = ["CONSUMER_PAGES", "SANDBOX_PAGES", "merchant_page"]
"""``merchant_page`` is registered for ``/q/…`` (``app.qrcodes.scan``) when this is loaded."""
