"""Guaranteed notification: events written with the change, delivered as Standard Webhooks."""
