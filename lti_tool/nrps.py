"""Names and Role Provisioning Services 2.0: the course roster, cached in ``membership``.

The trainer dashboard lists learners from here, so learners who never launched the
tool and have no evidence yet still appear. A refresh reads every page of the
membership container (NRPS 2.0 §2.4, ``Link: rel="next"``) and marks absent members
inactive. The client-credentials token (LTI Advantage / Security Framework §4.1) is
the one ``lti_tool.platform_token`` keeps in the database for every process, as the
gradebook worker does; every call has a timeout (``AGS_TIMEOUT_SECONDS``).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.exceptions import ServiceError
from lti_tool.launch_records import upsert_membership, upsert_user
from lti_tool.models.people import CourseContext, Membership
from lti_tool.models.platform import Platform
from lti_tool.platform_token import PlatformTokenError, access_token, forget
from lti_tool.service_client import ServiceCallError, ServiceClient, follow_pages
from lti_tool.tool_conf import find_platform
from referentiel.orm import utcnow
from xapi import json_text
from xapi.evidence import resolve_pending_for_users

log = logging.getLogger(__name__)

SCOPES = ("https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",)
MEDIA_TYPE = "application/vnd.ims.lti-nrps.v2.membershipcontainer+json"
MAX_PAGES = 1000  # a platform whose next links never end is not followed forever
# The member fields the roster reads (NRPS 2.0 §2.2), all text.
MEMBER_TEXT = ("user_id", "status", "name", "given_name", "family_name", "email", "locale")
USER_ID_LIMIT = 255  # the sub column


def _platform(session: Session, context: CourseContext) -> Platform:
    platform = session.get(Platform, context.platform_id) if context.platform_id else None
    if platform is None or platform.issuer != context.issuer:
        platform = find_platform(session, context.issuer, None)
    if platform is None or not platform.active:
        raise ServiceError("The course's platform registration is not active any more.")
    return platform


def fetch_members(
    session: Session, context: CourseContext, *, timeout: float = 10.0
) -> list[dict[str, Any]]:
    """Every member of the context's roster, all pages read."""
    if not context.nrps_url:
        raise ServiceError(
            "The platform offers no roster service (NRPS) for this course: enable it in "
            "the tool's settings on the platform (privacy, services)."
        )
    platform = _platform(session, context)
    http = requests.Session()
    members: list[dict[str, Any]] = []
    pages = follow_pages(
        context.nrps_url, lambda url: _page(session, platform, http, url, timeout), MAX_PAGES
    )
    try:
        for page in pages:
            body = _json_object(page)
            listed = body.get("members") if body is not None else None
            if not isinstance(listed, list):
                log.warning("NRPS answer without members for context %s", context.id)
                raise ServiceError("The platform's roster answer could not be read.")
            members += [_member(member) for member in listed if isinstance(member, dict)]
    except ServiceCallError as error:  # a next page on another server
        log.warning("NRPS paging stopped for context %s: %s", context.id, error)
        raise ServiceError(f"The platform's roster could not be read: {error}") from error
    return members


def _member(member: dict[str, Any]) -> dict[str, Any]:
    """A member as the roster update reads it: the NRPS fields it uses, each of the
    right type (the platform's answer is not signed, and one odd member must not stop
    the refresh); a user id that is not text of at most 255 characters is skipped."""
    kept: dict[str, Any] = {
        k: v
        for k, v in member.items()
        if k in MEMBER_TEXT and isinstance(v, str) and json_text.storable(v)
    }
    roles = member.get("roles")
    kept["roles"] = (
        [r for r in roles if isinstance(r, str) and json_text.storable(r)]
        if isinstance(roles, list)
        else []
    )
    if len(kept.get("user_id", "")) > USER_ID_LIMIT:
        kept.pop("user_id")
    return kept


def _page(
    session: Session, platform: Platform, http: requests.Session, url: str, timeout: float
) -> requests.Response:
    """One page; a token the platform refuses (401) is forgotten and asked for again once."""
    for attempt in (1, 2):
        try:
            token = access_token(session, platform, SCOPES, http=http, timeout=timeout)
            return ServiceClient(token, http=http, timeout=timeout).call(
                "GET", url, accept=MEDIA_TYPE
            )
        except PlatformTokenError as error:
            log.warning("NRPS token refused for platform %s: %s", platform.id, error)
            raise ServiceError("The platform gave no access to its roster service.") from error
        except ServiceCallError as error:
            if error.status == 401 and attempt == 1:
                forget(session, platform, SCOPES)  # expired or revoked: ask for a new one
                continue
            log.warning("NRPS call failed for platform %s: %s", platform.id, error)
            if error.status is None:
                raise ServiceError("The roster could not be read from the platform.") from error
            raise ServiceError(
                f"The platform refused the roster request (HTTP {error.status})."
            ) from error
    raise AssertionError("unreachable")


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    try:
        # A member's text that no database stores is dropped from that member only.
        body = json_text.loads(response.text, lone_surrogates=True)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def refresh_roster(session: Session, context: CourseContext, *, timeout: float = 10.0) -> int:
    """Bring the context's memberships in line with the platform; return the member count."""
    members = fetch_members(session, context, timeout=timeout)
    seen: set[int] = set()
    members_seen: set[int] = set()
    for member in members:
        sub = member.get("user_id")
        if not isinstance(sub, str) or not sub:
            continue
        user = upsert_user(session, context.issuer, {"sub": sub, **member})
        roles = member["roles"]
        membership = session.scalar(
            select(Membership).where(
                Membership.context_id == context.id, Membership.user_id == user.id
            )
        )
        source = membership.source if membership is not None else "nrps"
        membership = upsert_membership(session, context, user, roles, source=source)
        membership.active = member.get("status", "Active") == "Active"
        if membership.source != "launch":
            membership.source = "nrps"
        seen.add(membership.id)
        members_seen.add(user.id)
    for membership in session.scalars(
        select(Membership).where(Membership.context_id == context.id)
    ):
        if membership.id not in seen:
            membership.active = False
    context.roster_synced_at = utcnow()
    session.flush()
    # Members who never launched may already have statements: they become evidence.
    resolve_pending_for_users(session, members_seen)
    log.info("NRPS roster for context %s: %d members", context.id, len(seen))
    return len(seen)
