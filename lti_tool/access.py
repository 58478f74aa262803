"""Who is looking at a page, established by an LTI launch, and the checks pages apply.

After a launch the context lives in the Flask session (a signed cookie) and in a
short-lived signed *launch token* carried in links and forms (``lt``): inside an
iframe whose third-party cookies the browser blocks, the token alone carries the
launch from page to page. Pages never take a course, platform or learner from the
URL as authority: they read ``g.launch`` and scope every query by it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, ParamSpec, TypeVar

from flask import current_app, g, request, session, url_for
from flask_babel import gettext
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lti_tool.exceptions import Forbidden, LtiToolError

Role = Literal["learner", "instructor", "admin"]
LAUNCH_TOKEN_PARAM = "lt"  # noqa: S105 - a parameter name, not a secret
LAUNCH_TOKEN_MAX_AGE = 2 * 60 * 60  # seconds; pages refresh it on every render
_SALT = "lti-tool.launch"

P = ParamSpec("P")
R = TypeVar("R")


class LaunchRequired(LtiToolError):
    """No valid launch: the page must be opened from the LMS."""


@dataclass(frozen=True)
class LaunchContext:
    issuer: str
    user_id: int  # lti_user.id
    context_id: int | None  # course_context.id
    resource_link_id: int | None  # resource_link.id
    roles: tuple[str, ...]
    role: Role
    locale: str = "fr"

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["roles"] = list(self.roles)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LaunchContext:
        return cls(
            issuer=str(data["issuer"]),
            user_id=int(data["user_id"]),
            context_id=data.get("context_id"),
            resource_link_id=data.get("resource_link_id"),
            roles=tuple(data.get("roles", ())),
            role=data["role"],
            locale=str(data.get("locale", "fr")),
        )


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def issue_launch_token(launch: LaunchContext) -> str:
    return _serializer().dumps(launch.to_dict())


def read_launch_token(token: str) -> LaunchContext:
    try:
        data = _serializer().loads(token, max_age=LAUNCH_TOKEN_MAX_AGE)
    except SignatureExpired as error:
        raise LaunchRequired(
            gettext("This page has expired: open the tool again from the course.")
        ) from error
    except BadSignature as error:
        raise LaunchRequired(
            gettext("This link is not valid: open the tool again from the course.")
        ) from error
    return LaunchContext.from_dict(data)


def start_session(launch: LaunchContext) -> str:
    """Remember the launch in the session cookie and return a launch token for links."""
    session["launch"] = launch.to_dict()
    return issue_launch_token(launch)


def current_launch() -> LaunchContext:
    """The launch behind this request: the token when present, else the session cookie."""
    token = request.values.get(LAUNCH_TOKEN_PARAM) or request.headers.get("X-Launch-Token")
    if token:
        return read_launch_token(token)
    data = session.get("launch")
    if not data:
        raise LaunchRequired(gettext("No LTI launch: open the tool from your course in the LMS."))
    return LaunchContext.from_dict(data)


def require_launch(*roles: Role) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Views decorated with it see ``g.launch``; other roles get 403."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
            launch = current_launch()
            if roles and launch.role not in roles:
                raise Forbidden(
                    gettext("Your role in this course does not give access to this page.")
                )
            g.launch = launch
            g.launch_token = issue_launch_token(launch)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def launch_url(endpoint: str, **values: Any) -> str:
    """A URL to another page of the same launch, carrying a fresh launch token."""
    token = g.get("launch_token")
    if token:
        values.setdefault(LAUNCH_TOKEN_PARAM, token)
    return url_for(endpoint, **values)
