"""The administrator's page: platforms, registration URLs, référentiels, xAPI intake, delivery.

Reached from an LTI launch with an administrator role (``require_launch("admin")``).
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lti_tool.access import require_launch
from lti_tool.database import db
from lti_tool.models import Platform
from referentiel.models import Framework

bp = Blueprint("admin", __name__)


def registration_urls(base_url: str) -> list[tuple[str, str]]:
    """What an LMS admin types in when registering the tool by hand (LTI 1.3 Core §4)."""
    return [
        ("login", f"{base_url}/lti/login"),
        ("launch", f"{base_url}/lti/launch"),
        ("deep_linking", f"{base_url}/lti/launch"),
        ("jwks", f"{base_url}/lti/jwks"),
        ("dynamic_registration", f"{base_url}/lti/register"),
    ]


@bp.get("/")
@require_launch("admin")
def index() -> ResponseReturnValue:
    platforms = list(
        db.session.scalars(
            select(Platform)
            .options(selectinload(Platform.deployments))
            .order_by(Platform.issuer, Platform.client_id)
        )
    )
    frameworks = list(db.session.scalars(select(Framework).order_by(Framework.key)))
    return render_template(
        "admin/index.html",
        platforms=platforms,
        frameworks=frameworks,
        urls=registration_urls(current_app.config["BASE_URL"]),
    )
