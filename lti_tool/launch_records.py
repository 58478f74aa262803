"""What a validated launch tells the tool, recorded at each launch.

The user (issuer + sub, LTI 1.3 Core §5.3.6), the course context (§5.4.1), the
membership with its roles, the placed resource link with what it shows (custom
parameters ``framework`` and ``bloc``, set by Deep Linking), and the service
endpoints the context offers (NRPS, AGS).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.access import LaunchContext
from lti_tool.models.people import CourseContext, LtiUser, Membership
from lti_tool.models.platform import Platform
from lti_tool.models.resource_link import ResourceLink
from lti_tool.roles import audience, is_instructor_role, is_learner_role
from xapi.evidence import resolve_pending_for_user

log = logging.getLogger(__name__)

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
DEFAULT_FRAMEWORK = "diplovis-bgdc"


def _text(value: Any, limit: int | None = None) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:limit] if limit else value.strip()


def upsert_user(session: Session, issuer: str, claims: dict[str, Any]) -> LtiUser:
    sub = str(claims["sub"])
    user = session.scalar(select(LtiUser).where(LtiUser.issuer == issuer, LtiUser.sub == sub))
    if user is None:
        user = LtiUser(issuer=issuer, sub=sub)
        session.add(user)
    # Only what the platform shares; a claim left out keeps what we knew.
    for field in ("name", "given_name", "family_name"):
        value = _text(claims.get(field))
        if value is not None:
            setattr(user, field, value)
    email = _text(claims.get("email"), 320)
    if email is not None:
        user.email = email
    locale = _text(claims.get("locale"), 20) or _text(
        (claims.get(CLAIM + "launch_presentation") or {}).get("locale"), 20
    )
    if locale is not None:
        user.locale = locale
    session.flush()
    return user


def upsert_context(
    session: Session, platform: Platform, claims: dict[str, Any]
) -> CourseContext | None:
    claim = claims.get(CLAIM + "context")
    if not isinstance(claim, dict) or not _text(claim.get("id")):
        return None  # accepted: a launch outside any course (Core §5.4.1 is optional)
    context_id = str(claim["id"])
    context = session.scalar(
        select(CourseContext).where(
            CourseContext.issuer == platform.issuer, CourseContext.context_id == context_id
        )
    )
    if context is None:
        context = CourseContext(issuer=platform.issuer, context_id=context_id, deployment_id="")
        session.add(context)
    context.deployment_id = str(claims[CLAIM + "deployment_id"])
    context.platform_id = platform.id
    context.title = _text(claim.get("title")) or context.title
    context.label = _text(claim.get("label")) or context.label
    nrps = claims.get(NRPS_CLAIM)
    if isinstance(nrps, dict) and _text(nrps.get("context_memberships_url")):
        context.nrps_url = nrps["context_memberships_url"]
    ags = claims.get(AGS_CLAIM)
    if isinstance(ags, dict) and _text(ags.get("lineitems")):
        context.ags_lineitems_url = ags["lineitems"]
    session.flush()
    return context


def upsert_membership(
    session: Session, context: CourseContext, user: LtiUser, roles: list[str], source: str
) -> Membership:
    membership = session.scalar(
        select(Membership).where(Membership.context_id == context.id, Membership.user_id == user.id)
    )
    if membership is None:
        membership = Membership(context_id=context.id, user_id=user.id)
        session.add(membership)
    membership.roles = list(roles)
    membership.is_learner = any(is_learner_role(r) for r in roles)
    membership.is_instructor = any(is_instructor_role(r) for r in roles)
    membership.active = True
    membership.source = source
    session.flush()
    return membership


def upsert_resource_link(
    session: Session, context: CourseContext, claims: dict[str, Any]
) -> ResourceLink | None:
    claim = claims.get(CLAIM + "resource_link")
    if not isinstance(claim, dict) or not _text(claim.get("id")):
        return None
    link_id = str(claim["id"])
    link = session.scalar(
        select(ResourceLink).where(
            ResourceLink.context_id == context.id, ResourceLink.resource_link_id == link_id
        )
    )
    custom = claims.get(CLAIM + "custom") if isinstance(claims.get(CLAIM + "custom"), dict) else {}
    framework = _text((custom or {}).get("framework"), 100)
    bloc = _text((custom or {}).get("bloc"), 50)
    if link is None:
        link = ResourceLink(
            context_id=context.id,
            resource_link_id=link_id,
            framework_key=framework or DEFAULT_FRAMEWORK,
        )
        session.add(link)
    if framework:
        link.framework_key = framework
    if framework or bloc:
        link.bloc_key = bloc  # a framework without bloc means the whole référentiel
    link.title = _text(claim.get("title")) or link.title
    ags = claims.get(AGS_CLAIM)
    if isinstance(ags, dict) and _text(ags.get("lineitem")):
        link.lineitem_url = ags["lineitem"]
    session.flush()
    return link


def record_launch(session: Session, platform: Platform, claims: dict[str, Any]) -> LaunchContext:
    """Record the user, context, membership and resource link; return the page context."""
    roles = [r for r in claims.get(CLAIM + "roles", []) if isinstance(r, str)]
    user = upsert_user(session, platform.issuer, claims)
    # Statements received before this launch (or under a new email) become evidence.
    resolve_pending_for_user(session, user.id)
    context = upsert_context(session, platform, claims)
    link = None
    if context is not None:
        upsert_membership(session, context, user, roles, source="launch")
        link = upsert_resource_link(session, context, claims)
    return LaunchContext(
        issuer=platform.issuer,
        user_id=user.id,
        context_id=context.id if context else None,
        resource_link_id=link.id if link else None,
        roles=tuple(roles),
        role=audience(roles),
        locale=(user.locale or "fr")[:2],
    )
