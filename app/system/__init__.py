"""Operational endpoints: health."""
