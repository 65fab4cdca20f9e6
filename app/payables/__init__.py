"""Refund payables: what merchants owe consumers after a refund, until each fen reaches them."""
