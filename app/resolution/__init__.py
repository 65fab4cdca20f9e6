"""Resolution packs: everything a liquidator or insurer needs to pay a merchant's consumers.

One signed ZIP per merchant, built on demand (page, API, ``pguard merchants resolution-pack``),
readable and checkable without the service: ``pack`` gathers and writes it, ``manifest`` signs
and checks it, ``models`` keeps who took one and when.
"""
