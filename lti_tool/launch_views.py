"""LTI 1.3 endpoints: the tool's key set, OIDC login, launch, Deep Linking response.

Views parse the request and call :mod:`lti_tool.launch` (validation),
:mod:`lti_tool.launch_records` (what the launch tells us) and
:mod:`lti_tool.deep_linking`; refusals are :class:`LaunchRejected` pages (400).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Blueprint,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue

from lti_tool import keys
from lti_tool.access import LAUNCH_TOKEN_PARAM, LaunchContext, start_session
from lti_tool.database import db
from lti_tool.exceptions import LaunchRejected
from lti_tool.launch import (
    ToolMessageLaunch,
    ToolOIDCLogin,
    new_tool_conf,
    origin,
    request_is_iframe,
    session_service,
)
from lti_tool.launch_records import record_launch
from xapi import json_text

log = logging.getLogger(__name__)

bp = Blueprint("lti", __name__)

LANDING = {"learner": "learner.progress", "instructor": "trainer.dashboard", "admin": "admin.index"}
STATE_COOKIE_PREFIX = "lti1p3-"


@bp.get("/lti/jwks")
@bp.get("/.well-known/jwks.json")
def jwks() -> ResponseReturnValue:
    """The tool's public keys (Security Framework §6.3): every unretired key."""
    session = db.session
    keys.signing_key(session)  # the first key exists before anyone asks for it
    published = keys.published_jwks(session)
    session.commit()
    response = jsonify(published)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.route("/lti/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Third-party initiated login (LTI 1.3 Core §5.1.1, Security Framework §5.1.1.1).

    Three ways on: a plain redirect to the platform; inside a frame, a page that
    first checks the browser keeps our cookies (else offers a new window); or, when
    the platform offers its storage (``lti_storage_target``), a page that saves
    state and nonce there by postMessage before going on.
    """
    oidc = ToolOIDCLogin(new_tool_conf())
    storage_target = request.values.get("lti_storage_target") or None
    auth_url = oidc.authorization_url(storage_target)
    platform = oidc.platform
    log.info("LTI login for issuer %s (client %s)", platform.issuer, platform.client_id)
    if storage_target:
        page = render_template(
            "lti/platform_storage_login.html",
            auth_url=auth_url,
            state=oidc.state,
            nonce=oidc.nonce,
            storage_target=storage_target,
            platform_origin=origin(platform.auth_login_url),
        )
        response = make_response(page)
    elif request_is_iframe() and not request.values.get("lti1p3_new_window"):
        params: dict[str, Any] = {
            k: v for k, v in request.values.items() if k != "lti1p3_new_window"
        }
        params["lti1p3_new_window"] = "1"
        page = render_template(
            "lti/cookie_check.html",
            auth_url=auth_url,
            new_window_url=url_for("lti.login", **params),
        )
        response = make_response(page)
    else:
        response = make_response(redirect(auth_url))
    response.headers["Cache-Control"] = "no-store"
    return oidc.cookie_response(response)


@bp.post("/lti/launch")
def launch() -> ResponseReturnValue:
    """The platform's authentication response (Core §5.1.2): form_post of id_token."""
    state = request.form.get("state") or ""
    if state and request.cookies.get(STATE_COOKIE_PREFIX + state) != state:
        params = session_service().get_state_params(state)
        if isinstance(params, dict) and params.get("storage_target"):
            return _platform_storage_page(state, params)
    return _complete(ToolMessageLaunch(new_tool_conf()))


def _platform_storage_page(state: str, params: dict[str, Any]) -> ResponseReturnValue:
    """No cookie came back, but the login saved the state in the platform's storage:
    a page reads it there (LTI Client Side postMessages) and finishes the launch."""
    id_token = request.form.get("id_token") or ""
    page = render_template(
        "lti/platform_storage_launch.html",
        id_token=id_token,
        state=state,
        storage_target=params["storage_target"],
        platform_origin=params.get("platform_origin") or "",
        complete_url=url_for("lti.launch_complete"),
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/lti/launch/complete")
def launch_complete() -> ResponseReturnValue:
    """Finish a launch whose state the platform's storage confirmed.

    Only the tool's own page can call this: a JSON body (a cross-site form cannot
    send one without a CORS preflight, which is never granted) from the tool's
    origin. That page posts here only after reading, from the platform's window
    (origin checked), the state saved at login — the browser binding that the
    cookie gives otherwise.
    """
    expected = origin(current_app.config["BASE_URL"])
    if request.headers.get("Origin") != expected or not request.is_json:
        raise LaunchRejected("Launch refused: this step only accepts the tool's own page.")
    try:
        data = json_text.loads(request.get_data())
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise LaunchRejected("Launch refused: this step takes the page's JSON object.")
    state, stored = str(data.get("state") or ""), str(data.get("stored_state") or "")
    # A NUL is in no state this tool issued, and PostgreSQL text cannot be looked up with one.
    if not state or stored != state or "\x00" in state:
        raise LaunchRejected(
            "Launch refused: the platform's storage does not hold this login's state "
            "(state mismatch)."
        )
    message_launch = ToolMessageLaunch(
        new_tool_conf(),
        state_confirmed=state,
        request_data={"id_token": data.get("id_token") or "", "state": state},
    )
    response = _complete(message_launch)
    location = response.headers.get("Location")
    if location:
        return jsonify({"redirect": location})
    return jsonify({"html": response.get_data(as_text=True)})


def _complete(message_launch: ToolMessageLaunch) -> Any:
    message_launch.validate()
    claims = message_launch.claims
    platform = message_launch.tool_conf.platform
    assert platform is not None  # validate_registration found it
    context = record_launch(db.session, platform, claims)
    db.session.commit()
    token = start_session(context)
    log.info(
        "LTI launch accepted: issuer %s, message %s, audience %s",
        platform.issuer,
        claims.get("https://purl.imsglobal.org/spec/lti/claim/message_type"),
        context.role,
    )
    if message_launch.is_deep_link_launch():
        return _deep_linking_page(message_launch, context, token)
    if context.context_id is None and context.role != "admin":
        # Accepted (Core §5.4.1: the context claim is optional), but the learner and
        # trainer pages are about one course.
        return render_template("lti/outside_course.html"), 200
    values: dict[str, Any] = {LAUNCH_TOKEN_PARAM: token}
    return redirect(url_for(LANDING[context.role], **values), code=303)


def _deep_linking_page(
    message_launch: ToolMessageLaunch, context: LaunchContext, token: str
) -> Any:
    from lti_tool import deep_linking

    if context.role == "learner":
        raise LaunchRejected("Only a teacher or an administrator can place this tool in a course.")
    choices = deep_linking.choices(db.session)
    page = render_template(
        "lti/deep_linking.html",
        choices=choices,
        launch_id=message_launch.get_launch_id(),
        launch_token=token,
    )
    response = make_response(page)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/lti/deep-link")
def deep_link_response() -> ResponseReturnValue:
    """The instructor's choice, sent back to the platform (Deep Linking 2.0 §4.2)."""
    from lti_tool import deep_linking
    from lti_tool.access import current_launch
    from lti_tool.exceptions import Forbidden
    from lti_tool.models.people import LtiUser
    from lti_tool.tool_conf import find_platform, registration_for

    launch_context = current_launch()  # the form carries the launch token (lt)
    if launch_context.role == "learner":
        raise Forbidden("Only a teacher or an administrator can place this tool in a course.")
    session = db.session
    claims = session_service().data_storage.pop_value(request.form.get("launch_id") or "")
    user = session.get(LtiUser, launch_context.user_id)
    if not isinstance(claims, dict) or user is None:
        raise LaunchRejected("This selection has expired: add the tool again from the course.")
    if (claims.get("iss"), claims.get("sub")) != (user.issuer, user.sub):
        raise LaunchRejected("This selection belongs to another launch.")
    aud = claims.get("aud")
    client_id = claims.get("azp") or (aud[0] if isinstance(aud, list) else aud)
    platform = find_platform(session, user.issuer, client_id)
    if platform is None:
        raise LaunchRejected("The platform registration is no longer active.")
    settings = claims.get(deep_linking.DL + "deep_linking_settings") or {}
    placement = deep_linking.placement_for(session, request.form.get("placement") or "")
    token = deep_linking.response_jwt(
        registration_for(session, platform),
        str(claims.get(deep_linking.LTI + "deployment_id")),
        settings,
        [deep_linking.content_item(placement)],
    )
    session.commit()
    response = make_response(
        render_template(
            "lti/deep_linking_response.html",
            return_url=settings.get("deep_link_return_url"),
            jwt=token,
        )
    )
    response.headers["Cache-Control"] = "no-store"
    return response
