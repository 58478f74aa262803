"""The tool started as its own process on loopback, as an administrator runs it."""

from __future__ import annotations

import socket
import subprocess
import time
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[Any]) -> None:
    """Until ``{url}/__heartbeat__`` answers; fails at once if the process exits."""
    for _ in range(100):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            if requests.get(f"{url}/__heartbeat__", timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not start")
