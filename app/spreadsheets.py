"""Text that goes into CSV and XLSX files people open in a spreadsheet.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so a
merchant named ``=HYPERLINK(…)`` or a product typed that way could act on the reader's machine
(CSV injection). Every exported text a person typed goes through :func:`inert`.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(text: str) -> str:
    """``text`` as a spreadsheet shows it and never runs it: a leading apostrophe if needed."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
