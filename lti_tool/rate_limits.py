"""Rate limits of the anonymous endpoints (Flask-Limiter), per client address.

Three groups, each its own setting (a Flask-Limiter limit string, e.g. ``10 per hour``):

- ``RATE_LIMIT_REGISTRATION``: LTI Dynamic Registration (``/lti/register``), which makes
  the tool call the address it is given; an administrator registers a platform rarely.
- ``RATE_LIMIT_LAUNCH``: OIDC login initiation and launch (``/lti/login``,
  ``/lti/launch``, ``/lti/launch/complete``), each endpoint counted apart. They come
  from the learners' browsers, so a whole classroom behind one address must pass.
- ``RATE_LIMIT_XAPI_AUTH_FAILURES``: xAPI requests refused with 401, per address. Past
  the limit a refusal is answered 429 with ``Retry-After`` instead: a client repeating
  a stale secret (a log store left with a revoked key) is told to back off. Only
  refusals are counted, after the credentials were checked, so requests with good
  credentials never touch the counts and are never refused, whatever the address did.
  A refused request costs one indexed read and a fast keyed hash
  (:mod:`xapi.credentials`), no more than a good one: there is no load to shed before
  the check, and guessing a 256-bit secret is hopeless anyway.

The client address is ``request.remote_addr``: the real client's once ``TRUSTED_PROXIES``
makes the app trust the proxy's ``X-Forwarded-For`` (ProxyFix).

Counts live in ``RATE_LIMIT_STORAGE_URL``: ``memory://`` counts in each process (with
``gunicorn -w 4`` each worker counts apart, so a client gets up to four times the
limit); ``redis://host:6379`` shares the counts between workers and servers.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from functools import partial, wraps
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, make_response, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse, parse_many
from limits.storage import SCHEMES

from lti_tool.errors import error_response
from lti_tool.exceptions import ConfigurationError

LIMIT_KEYS = ("RATE_LIMIT_REGISTRATION", "RATE_LIMIT_LAUNCH", "RATE_LIMIT_XAPI_AUTH_FAILURES")

# A Redis that does not answer must not hold requests for the system's TCP timeout:
# after this long the limiter gives up and counts in memory until Redis is back.
REDIS_TIMEOUT_SECONDS = 1

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    """Check the settings, then give this app a limiter of its own (when enabled).

    One limiter per app, not one per process: Flask-Limiter keeps its storage and
    switches on the Limiter object, so a module-level one bound to two apps (tests,
    or two apps in one process) would count for both in the last app's storage.
    """
    storage_url = str(app.config["RATE_LIMIT_STORAGE_URL"])
    limits = {name: _checked_limit(name, app.config[name]) for name in LIMIT_KEYS}
    storage_options = _storage_options(storage_url)
    if not app.config["RATE_LIMIT_ENABLED"]:
        return

    limiter = Limiter(
        get_remote_address,
        storage_uri=storage_url,
        storage_options=storage_options,
        # Given here rather than as Flask-Limiter's RATELIMIT_* keys: the settings
        # operators see are the LTI_TOOL_RATE_LIMIT_* ones.
        strategy="sliding-window-counter",
        key_prefix="lti-tool",
        headers_enabled=False,  # a storage read on every answer; Retry-After is set on 429
        # Storage trouble lets requests through (counted in memory meanwhile), rather
        # than turning every launch into an error page.
        swallow_errors=True,
        in_memory_fallback_enabled=True,
    )
    limiter.init_app(app)
    _confine_hooks(app, limiter)
    _limit_views(app, limiter, limits)
    app.extensions["rate_limits"] = limiter
    xapi_refusals = parse(limits["RATE_LIMIT_XAPI_AUTH_FAILURES"])

    @app.after_request
    def _count_xapi_refusals(response: Response) -> Response:
        if response.status_code != 401 or request.blueprint != "xapi":
            return response
        where = ("lti-tool", "xapi-refused", get_remote_address())
        try:
            if limiter.limiter.hit(xapi_refusals, *where):
                return response
            reset_at = limiter.limiter.get_window_stats(xapi_refusals, *where).reset_time
        except Exception as error:  # the storage's trouble, not the client's: let it pass
            log.warning("rate limit storage unavailable: %s", type(error).__name__)
            return response
        return too_many_requests(
            "Too many requests with wrong xAPI credentials from your address.", reset_at
        )

    @app.errorhandler(RateLimitExceeded)
    def _too_many_requests(error: RateLimitExceeded) -> Response:
        breached = limiter.current_limit
        return too_many_requests(
            str(error.description), breached.reset_at if breached else time.time() + 60
        )


def too_many_requests(reason: str, reset_at: float) -> Response:
    """429 with ``Retry-After`` in seconds (RFC 9110 §10.2.3): when the breached window
    frees a request."""
    wait = max(math.ceil(reset_at - time.time()), 1)
    response = make_response(error_response(429, f"{reason} Try again in {wait} seconds."))
    response.headers["Retry-After"] = str(wait)
    return response


REGISTRATION_ENDPOINTS = ("registration.register",)
LAUNCH_ENDPOINTS = ("lti.login", "lti.launch", "lti.launch_complete")
LIMITED_ENDPOINTS = frozenset(REGISTRATION_ENDPOINTS + LAUNCH_ENDPOINTS)


def _limit_views(app: Flask, limiter: Limiter, limits: dict[str, str]) -> None:
    registration = limiter.limit(
        limits["RATE_LIMIT_REGISTRATION"],
        error_message="Too many platform registrations from your address.",
    )
    for endpoint in REGISTRATION_ENDPOINTS:
        _wrap_view(app, endpoint, registration)
    launch = limiter.limit(
        limits["RATE_LIMIT_LAUNCH"], error_message="Too many LTI launches from your address."
    )
    for endpoint in LAUNCH_ENDPOINTS:
        _wrap_view(app, endpoint, launch)


def _confine_hooks(app: Flask, limiter: Limiter) -> None:
    """Run the hooks Flask-Limiter adds to every request only for the limited endpoints.

    Its before, after and teardown hooks serve default, application and blueprint
    limits, which this app has none of (each limited view checks its own limit in its
    wrapper), yet they resolve limits on every request: on a single xAPI POST, about
    50 µs of 700 in-process. The hooks are found by the limiter they are bound to, not
    by name."""

    def confined(hook: Callable[..., Any], passes: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(hook)
        def run_if_limited(*args: Any) -> Any:
            if request.endpoint in LIMITED_ENDPOINTS:
                return hook(*args)
            return passes(*args)

        return run_if_limited

    def bound_to_limiter(hook: Callable[..., Any]) -> bool:
        if isinstance(hook, partial):
            return any(arg is limiter for arg in hook.args)
        return getattr(hook, "__self__", None) is limiter

    def nothing(*_args: Any) -> None:
        return None

    def same_response(response: Response) -> Response:
        return response

    app_wide: list[tuple[list[Any], Callable[..., Any]]] = [
        (app.before_request_funcs.setdefault(None, []), nothing),
        (app.after_request_funcs.setdefault(None, []), same_response),
        (app.teardown_request_funcs.setdefault(None, []), nothing),
    ]
    for hooks, passes in app_wide:
        hooks[:] = [confined(h, passes) if bound_to_limiter(h) else h for h in hooks]


def _wrap_view(app: Flask, endpoint: str, limit: Callable[[Any], Any]) -> None:
    """Flask-Limiter checks a view's own limit in the wrapper its decorator returns: this
    app's view is replaced by that wrapper (the module's function stays as it is)."""
    app.view_functions[endpoint] = limit(app.view_functions[endpoint])


def _checked_limit(name: str, value: object) -> str:
    text = str(value).strip()
    try:
        parse_many(text)
    except ValueError:
        raise ConfigurationError(
            f"LTI_TOOL_{name} must be a rate limit such as '10 per hour', not {value!r}"
        ) from None
    return text


def _storage_options(url: str) -> dict[str, str | int]:
    """Options for the storage, after checking that the URL names one we can use."""
    scheme = urlsplit(url).scheme
    if scheme != "memory" and not (scheme in SCHEMES and scheme.startswith("redis")):
        raise ConfigurationError(
            f"LTI_TOOL_RATE_LIMIT_STORAGE_URL must be memory:// or redis://host:port, not {url!r}"
        )
    if scheme.startswith("redis"):
        return {
            "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
            "socket_timeout": REDIS_TIMEOUT_SECONDS,
        }
    return {}
