"""``lti-tool xapi pull`` when the endpoint typed is not an xAPI URL, or the remote answers
something other than a StatementResult (xAPI 1.0.3 Data §2.5): one line, exit status 1,
never a stack trace, and never the credentials sent to another server.

The remote is scripted by each test and served over loopback HTTP by a real server
thread, as the other pull tests' remote LRS."""

from __future__ import annotations

import json
import math
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import Result
from flask import Flask, Response, request
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from werkzeug.serving import make_server

from lti_tool.cli import main
from lti_tool.database import db
from xapi.exceptions import PullError
from xapi.models import Statement
from xapi.pull import MIN_INTERVAL, RemoteLrsSource, check_interval


class ScriptedLrs:
    """A remote that answers each path with the status and body the test set (404
    otherwise) and records every request it gets, with its Authorization header."""

    # Past this many requests it answers 503: a pull that would loop forever ends.
    LIMIT = 20

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.requests: list[tuple[str, str | None]] = []
        app = Flask("scripted-lrs")
        app.add_url_rule("/<path:path>", "answer", self._answer)
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.port = self.server.server_port
        self.origin = f"http://127.0.0.1:{self.port}"
        self.endpoint = f"{self.origin}/xapi/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _answer(self, path: str) -> Response:
        self.requests.append((request.full_path, request.headers.get("Authorization")))
        if len(self.requests) > self.LIMIT:
            return Response(b"the scripted LRS stops here", 503)
        status, body = self.answers.get(request.path, (404, b"no such page"))
        return Response(body, status, content_type="application/json")

    def page(self, path: str, statements: list[dict[str, Any]], more: str = "") -> None:
        body = {"statements": statements, "more": more}
        self.answers[path] = (200, json.dumps(body).encode())

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join()


@pytest.fixture
def remote() -> Iterator[ScriptedLrs]:
    server = ScriptedLrs()
    yield server
    server.stop()


@pytest.fixture
def elsewhere() -> Iterator[ScriptedLrs]:
    """Another server, on another port: it must never be asked anything."""
    server = ScriptedLrs()
    yield server
    server.stop()


def remote_statement(second: int, **changes: Any) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "actor": {"mbox": "mailto:ada.martin@example.org"},
        "verb": {"id": "http://adlnet.gov/expapi/verbs/experienced"},
        "object": {"id": f"https://content.example.org/page/{second}"},
        "stored": f"2026-03-02T10:00:{second:02d}.000Z",
        "timestamp": "2026-03-02T09:00:00.000Z",
        "authority": {"mbox": "mailto:lrs@example.org"},
        **changes,
    }


def pull_from(runner: FlaskCliRunner, endpoint: str, *options: str) -> Result:
    return runner.invoke(
        main, ["xapi", "pull", "--endpoint", endpoint, "--key", "k", "--secret", "s", *options]
    )


def assert_one_line_error(result: Result, *fragments: str) -> str:
    """The command ended on one ``Error:`` line (not an uncaught exception) holding each
    fragment; the line is returned."""
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]


def local_ids(app: Flask) -> set[str]:
    with app.app_context():
        return set(db.session.scalars(select(Statement.id)))


@pytest.mark.parametrize(
    ("endpoint", "reason"),
    [
        ("not a url", "must start with http:// or https://"),
        ("ftp://x/", "must start with http:// or https://"),
        ("lrs.example.org/xAPI/", "must start with http:// or https://"),
        ("http:///xAPI/", "names no host"),
        ("http://lrs example.org/xAPI/", "spaces or control characters"),
        ("http://lrs.example.org:99999/xAPI/", "Port out of range"),
        ("http://[::1/xAPI/", "Invalid IPv6 URL"),
        ("https://puller:s3cret@lrs.example.org/xAPI/", "the credentials go in the key"),
        ("https://lrs.example.org/xAPI/?tenant=2", "query or a fragment"),
    ],
)
def test_an_endpoint_that_is_not_an_http_url_is_refused_before_any_request(
    runner: FlaskCliRunner, endpoint: str, reason: str
) -> None:
    shown = endpoint.replace(":s3cret@", ":***@")  # a password in it is not repeated
    line = assert_one_line_error(pull_from(runner, endpoint), repr(shown), reason)
    assert "s3cret" not in line
    assert "http://http" not in line and "http://ftp" not in line


def test_an_endpoint_in_capitals_without_its_final_slash_is_read(
    remote: ScriptedLrs, runner: FlaskCliRunner, app: Flask
) -> None:
    statement = remote_statement(1)
    remote.page("/xapi/statements", [statement])
    result = pull_from(runner, remote.endpoint.replace("http", "HTTP").rstrip("/"))
    assert result.exit_code == 0, result.output
    assert local_ids(app) == {statement["id"]}


@pytest.mark.parametrize("timeout", [0.0, -1.0, math.nan, math.inf])
def test_a_timeout_that_is_not_a_positive_number_of_seconds_is_refused(
    timeout: float,
) -> None:
    with pytest.raises(PullError, match="the timeout must be a positive number of seconds"):
        RemoteLrsSource("https://lrs.example.org/xAPI/", "k", "s", timeout=timeout)


def test_a_timeout_of_nan_seconds_fails_in_one_line(runner: FlaskCliRunner) -> None:
    result = pull_from(runner, "http://127.0.0.1:9/xapi/", "--timeout", "nan")
    assert_one_line_error(result, "the timeout must be a positive number of seconds")


@pytest.mark.parametrize("seconds", [-1.0, 0.0, 0.05, math.nan, math.inf, -math.inf])
def test_a_follow_interval_below_the_minimum_or_not_finite_is_refused(seconds: float) -> None:
    with pytest.raises(PullError, match="the interval between pulls must be"):
        check_interval(seconds)


def test_a_follow_interval_from_the_minimum_is_kept() -> None:
    assert check_interval(MIN_INTERVAL) == MIN_INTERVAL
    assert check_interval(60.0) == 60.0


@pytest.mark.parametrize("status", [200, 204])
def test_an_empty_body_is_told_with_its_status(
    remote: ScriptedLrs, runner: FlaskCliRunner, status: int
) -> None:
    remote.answers["/xapi/statements"] = (status, b"")
    result = pull_from(runner, remote.endpoint)
    assert_one_line_error(result, "answered an empty body", f"(status {status})")


STATEMENT = json.dumps(remote_statement(1))


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"   \r\n", "answered an empty body (status 200)"),
        (b"<html>Service unavailable</html>", "not a JSON object"),
        (b"[]", "not a JSON object"),
        (b'{"statements": []', "not a JSON object"),
        (b'{"statements": [] "more": ""}', "not a JSON object"),
        (b'{"statements": []} and then some', "not a JSON object: extra data"),
        (b'{"more": ""}', "no 'statements'"),
        (b'{"statements": {}}', "'statements' is not an array"),
        (b'{"statements": null}', "'statements' is not an array"),
        (b'{"statements": [1]}', "a statement must be a JSON object"),
        (f'{{"statements": [{STATEMENT}], "more": 5}}'.encode(), "'more' is not a string"),
        (f'{{"statements": [{STATEMENT}], "more": ["/x"]}}'.encode(), "'more' is not a string"),
        (b'\xff\xfe{"statements": []}', "answered a body that is not UTF-8"),
    ],
)
def test_a_body_other_than_a_statement_result_fails_in_one_line(
    remote: ScriptedLrs, runner: FlaskCliRunner, body: bytes, reason: str
) -> None:
    remote.answers["/xapi/statements"] = (200, body)
    assert_one_line_error(pull_from(runner, remote.endpoint), reason)


@pytest.mark.parametrize(
    "pages",
    [
        # The same page again and again.
        {"/xapi/more/2": "/xapi/more/2"},
        # Two pages sending each other.
        {"/xapi/more/2": "/xapi/more/3", "/xapi/more/3": "/xapi/more/2"},
    ],
    ids=["same-page", "cycle"],
)
def test_a_more_link_already_followed_ends_the_pull_in_one_line(
    remote: ScriptedLrs, runner: FlaskCliRunner, app: Flask, pages: dict[str, str]
) -> None:
    first = remote_statement(1)
    remote.page("/xapi/statements", [first], more="/xapi/more/2")
    taken = {first["id"]}
    for n, (path, more) in enumerate(pages.items(), start=2):
        statement = remote_statement(n)
        taken.add(statement["id"])
        remote.page(path, [statement], more=more)
    result = pull_from(runner, remote.endpoint)
    assert_one_line_error(result, "'more' link '/xapi/more/2', already followed")
    assert len(remote.requests) == 1 + len(pages)
    assert local_ids(app) == taken  # the pages read before stay


@pytest.mark.parametrize(
    "more",
    [
        "{origin}/xapi/more/2",  # in full, on another port
        "//127.0.0.1:{port}/xapi/more/2",  # a network-path reference
    ],
)
def test_a_more_link_to_another_server_is_refused_without_sending_the_credentials(
    remote: ScriptedLrs,
    elsewhere: ScriptedLrs,
    runner: FlaskCliRunner,
    more: str,
) -> None:
    more = more.format(origin=elsewhere.origin, port=elsewhere.port)
    remote.page("/xapi/statements", [remote_statement(1)], more=more)
    elsewhere.page("/xapi/more/2", [remote_statement(2)])
    result = pull_from(runner, remote.endpoint)
    assert_one_line_error(result, "'more' link to another server", repr(more))
    assert elsewhere.requests == []


def test_a_more_link_is_resolved_against_the_endpoint_not_pasted_after_its_host(
    remote: ScriptedLrs, elsewhere: ScriptedLrs, runner: FlaskCliRunner
) -> None:
    # Pasted after "http://127.0.0.1:PORT", "@localhost:OTHER/..." made "localhost" the
    # host and the endpoint's host and port a user name: the credentials went there.
    more = f"@localhost:{elsewhere.port}/xapi/more/2"
    remote.page("/xapi/statements", [remote_statement(1)], more=more)
    elsewhere.page("/xapi/more/2", [remote_statement(2)])
    result = pull_from(runner, remote.endpoint)
    assert_one_line_error(result, "answered 404")
    assert elsewhere.requests == []
    assert remote.requests[-1][0].startswith(f"/xapi/@localhost:{elsewhere.port}/xapi/more/2")


def test_a_more_link_in_full_to_the_endpoint_server_is_followed(
    remote: ScriptedLrs, runner: FlaskCliRunner, app: Flask
) -> None:
    first, second = remote_statement(1), remote_statement(2)
    remote.page("/xapi/statements", [first], more=f"{remote.origin}/xapi/more/2")
    remote.page("/xapi/more/2", [second])
    result = pull_from(runner, remote.endpoint)
    assert result.exit_code == 0, result.output
    assert "Pulled 2 new statement(s)" in result.output
    assert local_ids(app) == {first["id"], second["id"]}


def _lone_surrogate(statement: dict[str, Any]) -> None:
    # Half of a surrogate pair, which JSON can spell and no database can store.
    statement["actor"]["name"] = "Learner \ud83d"


def _nan(statement: dict[str, Any]) -> None:
    # A remote written in Python may serve NaN as its json module writes it, which no
    # JSON parser reads back.
    statement["result"] = {"extensions": {"http://example.org/x/reading": math.nan}}


@pytest.mark.parametrize(
    ("breaks", "reason"),
    [(_lone_surrogate, "a string holds a lone surrogate"), (_nan, "a number is NaN")],
)
def test_a_statement_no_client_could_read_back_is_rejected_alone(
    remote: ScriptedLrs,
    runner: FlaskCliRunner,
    app: Flask,
    breaks: Callable[[dict[str, Any]], None],
    reason: str,
) -> None:
    # The page's other statements are pulled, and the next run goes past it.
    broken = remote_statement(2)
    breaks(broken)
    kept = remote_statement(1)
    remote.page("/xapi/statements", [kept, broken])
    result = pull_from(runner, remote.endpoint)
    assert result.exit_code == 0, result.output
    assert "Pulled 1 new statement(s)" in result.output and "1 rejected" in result.output
    assert f"rejected: statement {broken['id']}: {reason}" in result.output
    assert local_ids(app) == {kept["id"]}


def test_a_more_link_holding_a_lone_surrogate_is_one_line(
    remote: ScriptedLrs, runner: FlaskCliRunner
) -> None:
    remote.page("/xapi/statements", [remote_statement(1)], more="/xapi/more/\udfff")
    result = pull_from(runner, remote.endpoint)
    assert result.exit_code == 1
    assert "'more': a string holds a lone surrogate" in result.output
    assert "Traceback" not in result.output


def test_a_date_time_out_of_range_rejects_its_statement_only(
    remote: ScriptedLrs, runner: FlaskCliRunner, app: Flask
) -> None:
    # Its offset takes it past year 9999 in UTC: the validator overflows.
    beyond = remote_statement(2, timestamp="9999-12-31T23:59:59-14:00")
    kept = remote_statement(1)
    remote.page("/xapi/statements", [kept, beyond])
    result = pull_from(runner, remote.endpoint)
    assert result.exit_code == 0, result.output
    assert "Pulled 1 new statement(s)" in result.output and "1 rejected" in result.output
    assert (
        f"rejected: statement {beyond['id']}.timestamp: is out of the range of date-times"
        in result.output
    )
    assert local_ids(app) == {kept["id"]}


def test_a_follow_interval_of_nan_seconds_fails_in_one_line(runner: FlaskCliRunner) -> None:
    result = pull_from(runner, "http://127.0.0.1:9/xapi/", "--follow", "--interval", "nan")
    assert_one_line_error(result, "the interval between pulls must be")
