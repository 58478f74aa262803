"""Deep Linking 2.0: what an instructor can place, and the signed response.

The response (Deep Linking 2.0 §4.2) returns one ``ltiResourceLink`` whose custom
parameters name the framework and, optionally, the bloc; it declares a line item
(§4.2.1.1 ``lineItem``: label, scoreMaximum, tag, resourceId) so the platform
creates the gradebook column, and echoes the request's ``data`` when there was one.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.exceptions import LaunchRejected
from lti_tool.tool_conf import ToolRegistration
from referentiel.models import Bloc, Framework

DL = "https://purl.imsglobal.org/spec/lti-dl/claim/"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
SCORE_MAXIMUM = 100
LINE_ITEM_TAG = "competences"
RESPONSE_LIFETIME = 600  # seconds


@dataclass(frozen=True)
class Placement:
    """One thing an instructor may place: a whole framework or one of its blocs."""

    framework_key: str
    bloc_key: str | None
    title: str

    @property
    def value(self) -> str:
        return f"{self.framework_key}/{self.bloc_key}" if self.bloc_key else self.framework_key


def choices(session: Session) -> list[Placement]:
    placements: list[Placement] = []
    for framework in session.scalars(select(Framework).order_by(Framework.key)):
        placements.append(Placement(framework.key, None, framework.title))
        blocs = session.scalars(
            select(Bloc)
            .where(Bloc.framework_id == framework.id, Bloc.retired_at.is_(None))
            .order_by(Bloc.position, Bloc.number)
        )
        for bloc in blocs:
            placements.append(
                Placement(framework.key, bloc.key, f"{framework.title} — {bloc.title}")
            )
    return placements


def placement_for(session: Session, value: str) -> Placement:
    for placement in choices(session):
        if placement.value == value:
            return placement
    raise LaunchRejected("Choose the whole référentiel or one of its blocs.")


def content_item(placement: Placement) -> dict[str, Any]:
    custom = {"framework": placement.framework_key}
    if placement.bloc_key:
        custom["bloc"] = placement.bloc_key
    return {
        "type": "ltiResourceLink",
        "title": placement.title,
        "url": f"{current_app.config['BASE_URL']}/lti/launch",
        "custom": custom,
        "lineItem": {
            "label": placement.title,
            "scoreMaximum": SCORE_MAXIMUM,
            "tag": LINE_ITEM_TAG,
            "resourceId": placement.value,
        },
    }


def response_jwt(
    registration: ToolRegistration,
    deployment_id: str,
    settings: dict[str, Any],
    items: list[dict[str, Any]],
) -> str:
    now = int(time.time())
    message: dict[str, Any] = {
        "iss": registration.get_client_id(),
        "aud": registration.get_issuer(),
        "iat": now,
        "exp": now + RESPONSE_LIFETIME,
        "nonce": uuid.uuid4().hex,
        LTI + "deployment_id": deployment_id,
        LTI + "message_type": "LtiDeepLinkingResponse",
        LTI + "version": "1.3.0",
        DL + "content_items": items,
    }
    if settings.get("data") is not None:
        message[DL + "data"] = settings["data"]  # §4.2: MUST be echoed when present
    return jwt.encode(
        message,
        registration.get_tool_private_key() or "",
        algorithm="RS256",
        headers={"kid": registration.get_kid()},
    )
