"""Pulling statements from another LRS (Ralph, Learning Locker, the LRS a Moodle log
store writes to) into this one.

The remote is read oldest first (``ascending=true``) from where the last run stopped
(``since`` = the ``stored`` of the newest statement taken, kept per source in
:class:`~xapi.models.PullSource`), following ``more`` links. Each page is stored in one
transaction through :mod:`xapi.statements_store`, then its evidence
derived (:func:`xapi.derivation.drain`), exactly as for statements posted to us. A
statement whose id is already stored is skipped when identical and reported as a
conflict otherwise; a statement that breaks the spec is reported and skipped rather
than blocking every later page.

The HTTP client is tincan's ``RemoteLRS`` transport with a socket timeout: its
``query_statements`` is not used because it parses the answer into tincan objects,
which refuses valid statements (upper-case UUIDs) and rewrites others; here the raw
body is kept and each statement's exact JSON stored.

Whatever the remote answers, and whatever the operator types, ends as a
:class:`~xapi.exceptions.PullError` whose message says what was wrong: an endpoint
that is not an http(s) URL, a body that is not a StatementResult, a ``more`` link to
another server (the credentials go only to the endpoint) or one already followed
(a remote that would be read forever).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import math
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import SplitResult, urljoin, urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from tincan.http_request import HTTPRequest
from tincan.remote_lrs import RemoteLRS

from xapi import derivation, json_text
from xapi.comparison import same_statement
from xapi.exceptions import InvalidStatement, PullError, XapiError
from xapi.models import PullSource, Statement
from xapi.statements_store import (
    ReceivedStatement,
    check_statement,
    format_stored,
    parse_body,
    prepare_statements,
    write_statements,
)
from xapi.validation import StatementValidator, parse_timestamp

log = logging.getLogger(__name__)

PAGE_SIZE = 500
DEFAULT_TIMEOUT = 30.0
# The shortest wait between two pulls of a follow loop: less would only hammer the remote.
MIN_INTERVAL = 0.1


class StatementSource(Protocol):
    """Where pages of statements come from: the raw text of a StatementResult."""

    def first_page(self, params: dict[str, str]) -> str: ...

    def next_page(self, more: str) -> str: ...


_timeout_lock = threading.Lock()


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """tincan opens its connections without a timeout; the default socket timeout is
    what they get. It is process-wide, hence the lock (the pull runs in the CLI)."""
    with _timeout_lock:
        previous = socket.getdefaulttimeout()
        socket.setdefaulttimeout(seconds)
        try:
            yield
        finally:
            socket.setdefaulttimeout(previous)


class RemoteLrsSource:
    """A remote LRS read through tincan's RemoteLRS transport, with a timeout.

    The endpoint and the timeout are checked here, before any request: tincan would
    prefix ``http://`` to any other scheme and let ``http.client`` fail on the rest.
    """

    def __init__(
        self, endpoint: str, key: str, secret: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.origin = _endpoint_origin(endpoint)
        if not math.isfinite(timeout) or timeout <= 0:
            raise PullError(f"the timeout must be a positive number of seconds, not {timeout}")
        self.lrs = RemoteLRS(
            endpoint=urlsplit(endpoint).geturl().rstrip("/") + "/",
            version="1.0.3",
            username=key,
            password=secret,
        )
        self.timeout = timeout

    def _get(self, resource: str, params: dict[str, str] | None = None) -> str:
        request = HTTPRequest(method="GET", resource=resource)
        request.query_params = params or {}
        try:
            with _socket_timeout(self.timeout):
                response = self.lrs._send_request(request)
        except UnicodeDecodeError:  # tincan decodes the body before its status is seen
            raise PullError(
                f"the LRS at {self.lrs.endpoint} answered a body that is not UTF-8"
            ) from None
        except (OSError, ValueError, http.client.HTTPException) as error:
            raise PullError(f"could not read {self.lrs.endpoint}: {error}") from None
        status = response.response.status
        data = str(response.data)
        if not 200 <= status < 300:
            raise PullError(f"{self.lrs.endpoint} answered {status}: {data[:200]!r}")
        if not data.strip():
            raise PullError(
                f"the LRS at {self.lrs.endpoint} answered an empty body (status {status})"
            )
        return data

    def first_page(self, params: dict[str, str]) -> str:
        return self._get("statements", params)

    def next_page(self, more: str) -> str:
        """The page a ``more`` link names, read only from the endpoint's own server.

        xAPI 1.0.3 Data §2.5: ``more`` is a relative IRL with the full path, "excluding
        scheme, host, and port". It is resolved against the endpoint; one that leads to
        another scheme, host or port is refused rather than sent the credentials.
        """
        try:
            url = urljoin(self.lrs.endpoint, more)
            origin = _origin(urlsplit(url))
        except ValueError as error:
            raise PullError(
                f"the remote LRS gave a 'more' link that is not a URL ({more[:200]!r}: {error})"
            ) from None
        if origin != self.origin:
            raise PullError(
                f"the remote LRS gave a 'more' link to another server ({more[:200]!r}): "
                f"refused, the credentials go only to {self.lrs.endpoint}"
            )
        return self._get(url)


def check_interval(seconds: float) -> float:
    """The seconds between two pulls of a follow loop, when finite and at least
    :data:`MIN_INTERVAL`; a :class:`PullError` otherwise (``sleep`` refuses a negative
    or NaN wait, and an infinite one would never poll again)."""
    if not math.isfinite(seconds) or seconds < MIN_INTERVAL:
        raise PullError(
            f"the interval between pulls must be a number of seconds of at least "
            f"{MIN_INTERVAL}, not {seconds}"
        )
    return seconds


# What http.client refuses in a URL (and what would split an HTTP request line).
_UNSAFE_URL_CHARACTERS = re.compile(r"[\x00-\x20\x7f]")


def _endpoint_origin(endpoint: str) -> tuple[str, str, int]:
    """The scheme, host and port of an xAPI endpoint; a :class:`PullError` naming it when
    it is not an http(s) URL with a host."""
    try:
        parts = urlsplit(endpoint)
        origin = _origin(parts)
    except ValueError as error:  # "http://[::1", a port not a number or past 65535
        raise _unusable_endpoint(endpoint, str(error)) from None
    if parts.scheme not in ("http", "https"):
        raise _unusable_endpoint(endpoint, "it must start with http:// or https://")
    if not parts.hostname:
        raise _unusable_endpoint(endpoint, "it names no host")
    if _UNSAFE_URL_CHARACTERS.search(endpoint):
        raise _unusable_endpoint(endpoint, "it holds spaces or control characters")
    if parts.username is not None or parts.password is not None:
        # Else the secret would be kept in the pull cursor and in the authority given
        # to pulled statements.
        raise _unusable_endpoint(endpoint, "the credentials go in the key and secret")
    if parts.query or parts.fragment:
        raise _unusable_endpoint(endpoint, "it must not carry a query or a fragment")
    return origin


def _unusable_endpoint(endpoint: str, reason: str) -> PullError:
    shown = _PASSWORD_IN_URL.sub(r"\1***@", endpoint)
    return PullError(
        f"the endpoint {shown!r} is not an xAPI endpoint URL ({reason}); "
        "expected e.g. https://lrs.example.org/xAPI/"
    )


# The password of a "scheme://user:password@host" URL, kept out of the error shown.
_PASSWORD_IN_URL = re.compile(r"(//[^/@:]*:)[^/@]*@")


def _origin(parts: SplitResult) -> tuple[str, str, int]:
    """Scheme, host and port (the scheme's default when none is given) of a URL;
    ValueError when its port is not a number from 0 to 65535."""
    port = parts.port
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), port


@dataclass
class PullReport:
    pages: int = 0
    stored: int = 0
    skipped_identical: int = 0
    conflicts: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # The remote's since did not resume where the last run stopped: read from the start.
    from_start: bool = False


def statement_result(text: str) -> tuple[list[ReceivedStatement], str]:
    """The statements of a StatementResult body, each with its exact JSON, and ``more``.

    xAPI 1.0.3 Data §2.5: an object whose ``statements`` (required) is an array of
    statements and whose ``more`` is an IRL, the empty string when there is no more
    (``null`` is read as the empty string). Anything else is a :class:`PullError`.
    """
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise PullError("the LRS answered an empty body")
    try:
        fields = _object_members(text)
    except ValueError as error:
        raise _not_a_statement_result(f"not a JSON object: {error}") from None
    if "statements" not in fields:
        raise _not_a_statement_result("no 'statements'")
    start, end = fields["statements"]
    if text[start] != "[":
        raise _not_a_statement_result("'statements' is not an array")
    try:
        items, _is_array = parse_body(text[start:end])
    except XapiError as error:
        raise _not_a_statement_result(f"'statements': {error}") from None
    more: Any = ""
    if "more" in fields:
        try:
            more = json_text.loads(text[slice(*fields["more"])])
        except ValueError as error:
            raise _not_a_statement_result(f"'more': {error}") from None
    if more is None:
        more = ""
    if not isinstance(more, str):
        raise _not_a_statement_result(f"'more' is not a string: {more!r}"[:200])
    return items, more


def _not_a_statement_result(reason: str) -> PullError:
    return PullError(f"the remote LRS sent something other than a StatementResult ({reason})")


def _object_members(text: str) -> dict[str, tuple[int, int]]:
    """Where each member's value of the JSON object ``text`` starts and ends; ValueError
    when ``text`` is not one JSON object."""
    members: dict[str, tuple[int, int]] = {}
    pos = _skip(text, 0)
    if text[pos : pos + 1] != "{":
        raise ValueError("it does not start with '{'")
    pos = _skip(text, pos + 1)
    if text[pos : pos + 1] == "}":
        pos += 1
    else:
        while True:
            if text[pos : pos + 1] != '"':
                raise ValueError(f"a member name expected at {pos}")
            key, pos = json_text.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos : pos + 1] != ":":
                raise ValueError(f"':' expected at {pos}")
            start = _skip(text, pos + 1)
            _value, pos = json_text.raw_decode(text, start)
            members[key] = (start, pos)
            pos = _skip(text, pos)
            if text[pos : pos + 1] == ",":
                pos = _skip(text, pos + 1)
            elif text[pos : pos + 1] == "}":
                pos += 1
                break
            else:
                raise ValueError(f"',' or '}}' expected at {pos}")
    if _skip(text, pos) != len(text):
        raise ValueError(f"extra data at {_skip(text, pos)}")
    return members


def _skip(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def source_row(session: Session, endpoint: str, key: str) -> PullSource:
    row = session.scalar(
        select(PullSource).where(PullSource.endpoint == endpoint, PullSource.key == key)
    )
    if row is None:
        row = PullSource(endpoint=endpoint, key=key, pulled=0, conflicts=0)
        session.add(row)
        session.flush()
    return row


def pull(
    session: Session,
    source: StatementSource,
    endpoint: str,
    key: str,
    *,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[PullReport], None] | None = None,
    from_start: bool = False,
) -> PullReport:
    """Take every statement stored remotely since the last run; commit page by page.

    ``from_start`` reads the remote from its first statement again (those already here
    are skipped). A remote whose ``since`` does not filter on ``stored`` as xAPI says
    (Ralph 5.1 filters on ``timestamp``) is read from the start without asking: see
    :func:`_holds_one_already_here`. A ``more`` link already followed in this pull (the
    same page again, or a cycle of pages) ends it with a :class:`PullError`; the pages
    taken before stay.
    """
    report = PullReport()
    cursor = source_row(session, endpoint, key)
    session.commit()
    params = {"ascending": "true", "limit": str(page_size)}
    resuming = bool(cursor.since) and not from_start
    if resuming:
        params["since"] = str(cursor.since)
    followed: set[str] = set()
    items, more = statement_result(source.first_page(params))
    if resuming and not _holds_one_already_here(session, items):
        # The statement the cursor stopped at did not come back: the remote's since is
        # not on stored (see _holds_one_already_here). Read it from the start.
        report.from_start = True
        del params["since"]
        items, more = statement_result(source.first_page(params))
    while True:
        report.pages += 1
        before = report.stored
        newest = _store_page(session, items, report, _source_authority(endpoint, key))
        cursor = source_row(session, endpoint, key)
        if newest is not None:
            # One millisecond back: statements sharing the last stored time but cut off
            # by the page end come again next run and are skipped as identical. The
            # cursor only moves forward, whatever order the remote's pages come in.
            since = format_stored(_just_before(newest))
            if cursor.since is None or parse_timestamp(since, "since") > parse_timestamp(
                cursor.since, "since"
            ):
                cursor.since = since
        cursor.pulled += report.stored - before
        cursor.conflicts = len(report.conflicts)
        session.commit()
        derivation.drain(session)
        if on_page is not None:
            on_page(report)
        if not more or not items:
            return report
        if more in followed:
            # The same page again, or a cycle of pages: read on, it would never end.
            raise PullError(
                f"the remote LRS gave again the 'more' link {more[:200]!r}, already followed "
                f"in this pull: stopped after {report.pages} page(s) rather than read the "
                "same pages forever"
            )
        followed.add(more)
        items, more = statement_result(source.next_page(more))


def _holds_one_already_here(session: Session, items: list[ReceivedStatement]) -> bool:
    """Whether a first page asked ``since`` the cursor holds the statement the last run
    stopped at (or another already here).

    The cursor is a millisecond before the ``stored`` of the newest statement taken, so
    a remote whose ``since`` filters on ``stored``, as xAPI says, sends that statement
    again. One that filters on ``timestamp`` (Ralph 5.1) does not, and would hide every
    statement stored since whose activity happened before the cursor (what Moodle's
    log store sends at each run of its task): such a remote is read from the start,
    the statements already here skipped. A statement voided remotely since looks the
    same, and costs one such full read.
    """
    ids = [str(item.data.get("id", "")).lower() for item in items]
    if not ids:
        return False
    return session.scalar(select(Statement.id).where(Statement.id.in_(ids)).limit(1)) is not None


def _just_before(stored: datetime) -> datetime:
    """A millisecond before ``stored``, or ``stored`` itself at the first representable
    moment (a remote may claim year 1)."""
    try:
        return stored - timedelta(milliseconds=1)
    except OverflowError:
        return stored


def _source_authority(endpoint: str, key: str) -> dict[str, Any]:
    """The authority given to a pulled statement that carries none."""
    return {"objectType": "Agent", "account": {"homePage": endpoint, "name": key}}


def _store_page(
    session: Session,
    items: list[ReceivedStatement],
    report: PullReport,
    authority: dict[str, Any],
) -> Any:
    """Store the new statements of one page; return the newest remote ``stored``."""
    validator = StatementValidator()
    newest = None
    fresh: list[ReceivedStatement] = []
    for item in items:
        data = item.data
        ident = str(data.get("id", "")).lower()
        try:
            check_statement(validator, item, f"statement {ident or '(no id)'}")
            if not ident:
                raise InvalidStatement("a pulled statement must carry its id")
            stored = parse_timestamp(data.get("stored"), f"statement {ident}.stored")
        except InvalidStatement as error:
            report.rejected.append(str(error))
            continue
        newest = stored if newest is None or stored > newest else newest
        fresh.append(item)
    if not fresh:
        return newest
    ids = [str(item.data["id"]).lower() for item in fresh]
    existing = {
        row.id: row for row in session.scalars(select(Statement).where(Statement.id.in_(ids)))
    }
    new: list[ReceivedStatement] = []
    seen: set[str] = set()
    for ident, item in zip(ids, fresh, strict=True):
        if ident in seen:
            continue
        seen.add(ident)
        previous = existing.get(ident)
        if previous is None:
            new.append(item)
        elif same_statement(json.loads(previous.raw), item.data):
            report.skipped_identical += 1
        else:
            report.conflicts.append(ident)
            log.warning("pulled statement %s differs from the one stored here", ident)
    if new:
        prepared = prepare_statements(
            new, authority=authority, credential=None, keep_authority=True, remote=True
        )
        write_statements(session, prepared)
        report.stored += len(new)
    return newest
