"""QR: signed counter and redemption codes and their images (issue 3).

Framework-free: imports neither ``app`` nor ``litestar``, nor the other domain packages.
"""
