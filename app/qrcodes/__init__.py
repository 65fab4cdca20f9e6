"""qrcodes."""
