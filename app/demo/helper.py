"""A helper process of ``pguard demo``: loads the merchants it is given (see ``app.demo.loader``).

Started by the loader, it imports the app, then reads one job (JSON) from stdin; an empty stdin
means there is nothing to do. It exits 1 with the error on stderr when the job fails.
"""

from __future__ import annotations

import asyncio
import json
import sys

from app.demo.loader import trade_elsewhere


def main() -> None:
    """Run the job on stdin, if any."""
    data = sys.stdin.buffer.read()
    if not data.strip():
        return
    asyncio.run(trade_elsewhere(json.loads(data)))


if __name__ == "__main__":
    main()
