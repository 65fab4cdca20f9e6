"""Supervision: warnings, consumer disputes and regulator measures (the closed loop).

The dispute workflow's rules are :mod:`.dispute_rules` (no database); its use cases are the
:mod:`.disputes` package; every regulator measure goes through :func:`.measures.take`.
"""
