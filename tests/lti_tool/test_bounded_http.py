"""A platform's answer is read within a size and a time limit, whatever it sends."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest
import requests

from lti_tool.bounded_http import AnswerTooLarge, AnswerTooSlow, read_bounded


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], str]]:
    """A loopback server answering each connection with ``behave(conn)``; its URL."""
    servers: list[socket.socket] = []

    def start(behave: Callable[[socket.socket], None]) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def loop() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.recv(65536)
                    with contextlib.suppress(OSError):  # the client hung up
                        behave(conn)

        threading.Thread(target=loop, daemon=True).start()
        return f"http://127.0.0.1:{server.getsockname()[1]}/"

    yield start
    for server in servers:
        server.close()


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


def test_an_endless_body_stops_at_the_size_limit(serve) -> None:  # type: ignore[no-untyped-def]
    def endless(conn: socket.socket) -> None:
        conn.sendall(HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        while True:
            conn.sendall(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")

    response = requests.get(serve(endless), stream=True, timeout=5)
    with pytest.raises(AnswerTooLarge):
        read_bounded(response, max_bytes=1_000_000, seconds=30)


def test_a_body_sent_a_byte_at_a_time_stops_at_the_time_limit(serve) -> None:  # type: ignore[no-untyped-def]
    def trickle(conn: socket.socket) -> None:
        conn.sendall(HEAD + b"Content-Length: 1000\r\n\r\n")
        for _ in range(1000):
            conn.sendall(b" ")
            time.sleep(0.05)  # each read answers well within the socket timeout

    response = requests.get(serve(trickle), stream=True, timeout=5)
    began = time.monotonic()
    with pytest.raises(AnswerTooSlow):
        read_bounded(response, max_bytes=1_000_000, seconds=0.5)
    assert time.monotonic() - began < 5  # not the 50 s the whole body would take


def test_an_answer_within_the_limits_reads_as_usual(serve) -> None:  # type: ignore[no-untyped-def]
    def small(conn: socket.socket) -> None:
        conn.sendall(HEAD + b'Content-Length: 11\r\n\r\n{"a": [1]}\n')

    response = requests.get(serve(small), stream=True, timeout=5)
    read_bounded(response, max_bytes=100, seconds=5)
    assert response.json() == {"a": [1]}
