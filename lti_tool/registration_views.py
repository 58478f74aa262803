"""LTI Dynamic Registration 1.0 initiation endpoint (§3.3)."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from lti_tool import dynamic_registration
from lti_tool.database import db
from lti_tool.exceptions import RegistrationFailed

bp = Blueprint("registration", __name__)


@bp.get("/lti/register")
def register() -> ResponseReturnValue:
    """Register with the platform that opened this page, then ask it to close the window."""
    configuration_url = request.args.get("openid_configuration")
    if not configuration_url:
        raise RegistrationFailed(
            "Open this address from the platform's tool registration (it adds "
            "openid_configuration and registration_token)."
        )
    platform = dynamic_registration.register(
        db.session,
        openid_configuration=configuration_url,
        registration_token=request.args.get("registration_token") or None,
        base_url=current_app.config["BASE_URL"],
        tool_name=current_app.config["TOOL_NAME"],
        auto_activate=bool(current_app.config["REGISTRATION_AUTO_ACTIVATE"]),
        allow_private=dynamic_registration.private_hosts_allowed(
            current_app.config["BASE_URL"], current_app.config["REGISTRATION_PRIVATE_HOSTS"]
        ),
    )
    db.session.commit()
    return render_template("lti/registration_done.html", platform=platform)
