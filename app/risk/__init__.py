"""Merchant risk: indicator ingestion, live ratings, the re-rate worker and the regulator API."""
