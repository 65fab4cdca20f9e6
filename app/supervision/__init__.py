"""Supervision: warnings, consumer disputes and regulator measures (the closed loop)."""
