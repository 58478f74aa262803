"""Ralph 5.1 (PyPI ``ralph-malph``), the peer LRS of ``bench/xapi_ingest.py`` and of the
pull tests: started on a loopback port with its file backend under uvicorn, from its
own virtualenv (``scripts/ralph-venv`` makes it), never from the tool's.

    peer = start_ralph()      # RalphPeer: endpoint .../xAPI/, Basic credentials
    ...
    peer.stop()

It also holds what the bench does with any local server: a free port, waiting for it to
answer, stopping it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
VENV = Path(os.environ.get("RALPH_VENV", HERE / ".ralph-venv"))
USER, PASSWORD = "bench", "benchpass"


@dataclass
class RalphPeer:
    endpoint: str  # the xAPI base, ending in "/"
    auth: tuple[str, str]
    process: subprocess.Popen[bytes]
    work: Path

    def stop(self) -> None:
        stop_server(self.process, self.work)


def installed(venv: Path = VENV) -> bool:
    return (venv / "bin" / "ralph").exists()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_server(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until ``url`` answers (30 s at most); RuntimeError when the server exits first."""
    for _ in range(300):
        if process.poll() is not None:
            raise RuntimeError(f"server exited early: {log.read_text()[-2000:]}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"server did not answer within 30 s; see {log}")


def stop_server(process: subprocess.Popen[bytes], work: Path) -> None:
    """Stop it (killed after 10 s) and remove its working folder."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
    shutil.rmtree(work, ignore_errors=True)


def start_ralph(venv: Path = VENV) -> RalphPeer:
    """Ralph on a fresh, empty store, with one user allowed everything."""
    work = Path(tempfile.mkdtemp(prefix="ralph-"))
    (work / "data").mkdir()
    env = dict(os.environ)
    env.update(
        RALPH_APP_DIR=str(work / "app"),
        RALPH_RUNSERVER_BACKEND="fs",
        RALPH_BACKENDS__LRS__FS__DEFAULT_DIRECTORY_PATH=str(work / "data"),
    )
    credentials = ["-u", USER, "-p", PASSWORD, "-s", "all", "-M", "mailto:bench@example.com"]
    subprocess.run(
        [str(venv / "bin" / "ralph"), "auth", "--write-to-disk", *credentials],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = work / "server.log"
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [str(venv / "bin" / "python"), str(HERE / "ralph_launcher.py"), str(port)],
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    peer = RalphPeer(f"http://127.0.0.1:{port}/xAPI/", (USER, PASSWORD), process, work)
    try:
        wait_for_server(f"http://127.0.0.1:{port}/whoami", process, log)
    except RuntimeError:
        peer.stop()
        raise
    return peer
