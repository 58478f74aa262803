"""Pulling statements from another LRS (Ralph, Learning Locker, the LRS a Moodle log
store writes to) into this one.

The remote is read oldest first (``ascending=true``) from where the last run stopped
(``since`` = the ``stored`` of the newest statement taken, kept per source in
:class:`~xapi.models.PullSource`), following ``more`` links. Each page is stored in one
transaction through :func:`xapi.statements_store.store_statements`, then its evidence
derived (:func:`xapi.derivation.drain`), exactly as for statements posted to us. A
statement whose id is already stored is skipped when identical and reported as a
conflict otherwise; a statement that breaks the spec is reported and skipped rather
than blocking every later page.

The HTTP client is tincan's ``RemoteLRS`` transport with a socket timeout: its
``query_statements`` is not used because it parses the answer into tincan objects,
which refuses valid statements (upper-case UUIDs) and rewrites others; here the raw
body is kept and each statement's exact JSON stored.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session
from tincan.http_request import HTTPRequest
from tincan.remote_lrs import RemoteLRS

from xapi import derivation
from xapi.comparison import same_statement
from xapi.exceptions import InvalidStatement, PullError, XapiError
from xapi.models import PullSource, Statement
from xapi.statements_store import (
    ReceivedStatement,
    format_stored,
    parse_body,
    store_statements,
)
from xapi.validation import StatementValidator, parse_timestamp

log = logging.getLogger(__name__)

PAGE_SIZE = 500
DEFAULT_TIMEOUT = 30.0


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
    """A remote LRS read through tincan's RemoteLRS transport, with a timeout."""

    def __init__(
        self, endpoint: str, key: str, secret: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.lrs = RemoteLRS(
            endpoint=endpoint.rstrip("/") + "/", version="1.0.3", username=key, password=secret
        )
        self.timeout = timeout

    def _get(self, resource: str, params: dict[str, str] | None = None) -> str:
        request = HTTPRequest(method="GET", resource=resource)
        request.query_params = params or {}
        try:
            with _socket_timeout(self.timeout):
                response = self.lrs._send_request(request)
        except (OSError, ValueError) as error:
            raise PullError(f"could not read {self.lrs.endpoint}: {error}") from None
        status = response.response.status
        if not 200 <= status < 300:
            raise PullError(f"{self.lrs.endpoint} answered {status}: {response.data[:200]!r}")
        data = response.data
        return data.decode("utf-8") if isinstance(data, bytes) else str(data)

    def first_page(self, params: dict[str, str]) -> str:
        return self._get("statements", params)

    def next_page(self, more: str) -> str:
        return self._get(self.lrs.get_endpoint_server_root() + more)


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
    """The statements of a StatementResult body, each with its exact JSON, and ``more``."""
    decoder = json.JSONDecoder()
    try:
        pos = _skip(text, 0)
        if text[pos] != "{":
            raise ValueError("not an object")
        pos = _skip(text, pos + 1)
        items: list[ReceivedStatement] = []
        more = ""
        while text[pos] != "}":
            key, pos = decoder.raw_decode(text, pos)
            pos = _skip(text, pos)
            if text[pos] != ":":
                raise ValueError("':' expected")
            start = _skip(text, pos + 1)
            value, pos = decoder.raw_decode(text, start)
            if key == "statements":
                items, _is_array = parse_body(text[start:pos])
            elif key == "more":
                more = str(value or "")
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
    except (ValueError, IndexError, XapiError) as error:
        raise PullError(
            f"the remote LRS sent something other than a StatementResult ({error})"
        ) from None
    return items, more


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
    :func:`_holds_one_already_here`.
    """
    report = PullReport()
    cursor = source_row(session, endpoint, key)
    session.commit()
    params = {"ascending": "true", "limit": str(page_size)}
    resuming = bool(cursor.since) and not from_start
    if resuming:
        params["since"] = str(cursor.since)
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
            since = format_stored(newest - timedelta(milliseconds=1))
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
            validator.statement(data, f"statement {ident or '(no id)'}")
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
        store_statements(
            session,
            new,
            authority=authority,
            credential=None,
            keep_authority=True,
            remote=True,
        )
        report.stored += len(new)
    return newest
