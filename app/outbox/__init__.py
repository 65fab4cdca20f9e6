"""Guaranteed notification: insurers, and events for them delivered as Standard Webhooks."""
