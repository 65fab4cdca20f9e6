"""Merchant risk: indicator ingestion, the platform's own figures, live ratings, the re-rate queue.

What a rating changes is published as events (:mod:`app.risk.events`); what re-rates a
merchant arrives as other areas' events (:mod:`app.risk.handlers`).
"""
