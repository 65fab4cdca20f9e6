"""The app served on a port by uvicorn as ``pguard run`` serves it (``app.serving``).

For what the in-process test client cannot show: requests that really run at the same time
(it answers one at a time), uvicorn's own behaviour, a browser.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Self

import httpx
import uvicorn

from app.asgi import create_app
from app.db import create_engine
from app.serving import server_config
from app.settings import PROJECT_ROOT

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``create_app`` under uvicorn on a thread, as ``pguard run`` serves it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.ready = threading.Event()
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=asyncio.run, args=(self._main(),), daemon=True)

    async def _main(self) -> None:
        engine = create_engine(self.url, pool_size=5, max_overflow=5)
        config = server_config(create_app(engine), host="127.0.0.1", port=self.port, lifespan="on")
        self.server = uvicorn.Server(config)
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started:  # noqa: ASYNC110 - uvicorn offers only this flag
            await asyncio.sleep(0.02)
        self.ready.set()
        await serving
        await engine.dispose()

    def __enter__(self) -> Self:
        self.thread.start()
        assert self.ready.wait(30), "the server did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self.server is not None
        self.server.should_exit = True
        self.thread.join(30)


@contextmanager
def pguard_run(url: str, log: Path, **env: str) -> Iterator[str]:
    """``pguard run`` itself in a process of its own on ``url``, its output (stdout and
    stderr, every log line) written to ``log``; yields the base URL once ``/health`` answers.
    """
    port = _free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "run", "--port", str(port)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1", **env},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "pguard run did not answer in 60 s"
                time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
