"""Reading a platform's answer with a size and a time limit.

``requests``' timeout bounds each wait on the socket, not the whole answer: a server
sending a byte every few seconds, or an endless body, would hold a request or a worker
for ever and fill its memory. Calls made with ``stream=True`` read their body here.
The failures subclass ``requests``' own, so callers' handlers already catch them.
"""

from __future__ import annotations

import time

import requests
import urllib3

CHUNK_BYTES = 64 * 1024


class AnswerTooLarge(requests.RequestException):
    """The body went past the limit; what was read is dropped."""


class AnswerTooSlow(requests.Timeout):
    """The body was still coming when the time was up."""


def read_bounded(response: requests.Response, *, max_bytes: int, seconds: float) -> None:
    """Read ``response``'s body (``stream=True``) within ``max_bytes`` and ``seconds``
    from now; afterwards ``.content``, ``.text`` and ``.json()`` work as usual."""
    deadline = time.monotonic() + seconds
    chunks: list[bytes] = []
    size = 0
    try:
        # read1: what one socket read brings (urllib3 2), so that the clock is looked at
        # between slow bytes too; iter_content would wait for a whole chunk.
        while chunk := _read_some(response):
            size += len(chunk)
            if size > max_bytes:
                raise AnswerTooLarge(f"the answer is larger than {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise AnswerTooSlow(f"the answer took more than {seconds:g} s")
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)  # what .content would have read itself


def _read_some(response: requests.Response) -> bytes:
    """The next bytes of the body; a broken answer (reset, bad chunking, bad gzip) as
    ``requests``' ConnectionError, as ``iter_content`` would have raised it."""
    try:
        return bytes(response.raw.read1(CHUNK_BYTES, decode_content=True))
    except (urllib3.exceptions.HTTPError, OSError) as error:
        raise requests.ConnectionError(f"the answer broke off ({type(error).__name__})") from error
