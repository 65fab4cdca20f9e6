"""A helper process of ``pguard demo``: loads the merchants it is given (``app.demo.trading``).

Started by the loader, it imports the app, then reads one job (JSON) from stdin; an empty stdin
means there is nothing to do. It exits 1 with the error on stderr when the job fails.
"""

from __future__ import annotations

import asyncio
import json
import sys

from app.demo.trading import trade_elsewhere
from app.wiring import wire


def main() -> None:
    """Run the job on stdin, if any."""
    wire()  # a fresh interpreter: the domain-event handlers, before the shops are loaded
    data = sys.stdin.buffer.read()
    if not data.strip():
        return
    asyncio.run(trade_elsewhere(json.loads(data)))


if __name__ == "__main__":
    main()
