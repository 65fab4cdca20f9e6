"""Insurers, their policies and premiums, and claims when a merchant defaults."""
