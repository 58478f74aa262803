"""What every page's frame shows: its language, the pages of the launch's role, notices.

Notices (the confirmation after a form) travel as a short key in the redirect's query
string rather than a flashed message: flashing needs the session cookie, which the
browser drops inside a cross-site iframe.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask, g, request
from flask_babel import get_locale, lazy_gettext

from lti_tool.access import launch_url

NOTICES = {
    "signoff": lazy_gettext("The sign-off has been recorded."),
    "override": lazy_gettext("The state has been set by hand."),
    "track": lazy_gettext("The track the learner follows has been recorded."),
    "retry": lazy_gettext("The delivery has been queued again."),
    "roster": lazy_gettext("The class list has been refreshed from the course."),
    "credential-revoked": lazy_gettext("The credential has been revoked."),
    "referentiel-loaded": lazy_gettext("The référentiel has been loaded."),
    "rule-added": lazy_gettext("The mapping rule has been added and applied to stored statements."),
    "rule-removed": lazy_gettext("The mapping rule has been removed."),
}


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    current: bool


def _nav() -> list[NavItem]:
    launch = g.get("launch")
    if launch is None:
        return []
    items: list[tuple[str, Any]] = []
    if launch.role == "learner":
        items.append(("learner.progress", lazy_gettext("My progress")))
    if launch.role in ("instructor", "admin") and launch.context_id is not None:
        items.append(("trainer.dashboard", lazy_gettext("Class dashboard")))
    if launch.role == "admin":
        items.append(("admin.index", lazy_gettext("Administration")))
    current_bp = (request.endpoint or "").split(".", 1)[0]
    return [
        NavItem(str(label), launch_url(endpoint), endpoint.split(".", 1)[0] == current_bp)
        for endpoint, label in items
    ]


def _page_context() -> dict[str, Any]:
    notice = NOTICES.get(request.args.get("notice", ""))
    return {
        "page_locale": str(get_locale() or "fr"),
        "page_nav": _nav(),
        "notice": str(notice) if notice else None,
    }


def init_app(app: Flask) -> None:
    app.context_processor(_page_context)
