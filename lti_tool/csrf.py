"""CSRF protection for every form, that also works inside a cookie-less iframe.

Flask-WTF's ``CSRFProtect`` checks every POST (and PUT, PATCH, DELETE). Out of the
box it compares the form's signed token with a random value kept in the session
cookie; inside Moodle's iframe on another site the browser drops that third-party
cookie, so every form would fail. Here the value the token is compared with is
*derived from the launch* instead: an HMAC, under the app's secret key, of the
launch's issuer, user, course and resource link. Before Flask-WTF's check runs, it is
put where Flask-WTF looks for it, so:

- the token in a form is only valid for the same person in the same course and link
  (a token taken from one launch does not work for another),
- it expires (``WTF_CSRF_TIME_LIMIT``, the launch token's lifetime),
- it needs no cookie: the launch itself comes from the signed launch token (``lt``)
  each form carries, or from the session cookie where the browser keeps it.

Why not use the launch token alone as the CSRF token: it also travels in links (GET
URLs) which end up in logs and history; the CSRF token only ever travels in form
bodies. A cross-site attacker can forge neither: both are signed with the secret key.

Protocol endpoints that are authenticated otherwise are exempted by blueprint at
registration (``csrf.exempt(bp)``): the LTI login and launch (the platform posts a
signed id_token), the xAPI Statements API (HTTP Basic credentials) and JSON APIs.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import Flask, current_app, request, session
from flask_wtf.csrf import CSRFProtect

from lti_tool.access import LAUNCH_TOKEN_MAX_AGE, LaunchContext, LaunchRequired, current_launch

csrf = CSRFProtect()

FIELD_NAME = "csrf_token"


def launch_binding(launch: LaunchContext) -> str:
    """The value a CSRF token is checked against for this launch."""
    identity = "|".join(
        str(part)
        for part in (
            launch.issuer,
            launch.user_id,
            launch.context_id,
            launch.resource_link_id,
            launch.role,
        )
    )
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, b"csrf|" + identity.encode(), hashlib.sha256).hexdigest()


# Blueprints that never serve a launch's forms: the xAPI resources (HTTP Basic) and
# the health probes. Their requests skip the launch lookup and leave the session alone.
NO_LAUNCH_BLUEPRINTS = frozenset({"xapi", "health"})


def _bind_to_launch() -> None:
    if request.blueprint in NO_LAUNCH_BLUEPRINTS:
        return
    try:
        launch = current_launch()
    except LaunchRequired:
        # No launch: a form posted now has nothing to be checked against, so Flask-WTF
        # refuses it ("session token missing") unless its blueprint is exempt.
        session.pop(FIELD_NAME, None)
        return
    session[FIELD_NAME] = launch_binding(launch)


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", LAUNCH_TOKEN_MAX_AGE)
    app.config.setdefault("WTF_CSRF_FIELD_NAME", FIELD_NAME)
    # Registered before CSRFProtect's own hook, so it runs first.
    app.before_request(_bind_to_launch)
    csrf.init_app(app)
