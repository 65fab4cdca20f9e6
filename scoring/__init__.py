"""Scoring: merchant risk indicators, features, the model and A to E grades (issue 4).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""
