"""Names and Role Provisioning Services 2.0: the course roster, cached in ``membership``.

The trainer dashboard lists learners from here, so learners who never launched the
tool and have no evidence yet still appear. A refresh reads every page of the
membership container (NRPS 2.0 §2.4, ``Link: rel="next"``) with a client-credentials
token (LTI Advantage / Security Framework §4.1) and marks absent members inactive.
"""

from __future__ import annotations

import logging
from typing import Any

from pylti1p3.exception import LtiException, LtiServiceException
from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.exceptions import ServiceError
from lti_tool.launch_records import upsert_membership, upsert_user
from lti_tool.models.people import CourseContext, Membership
from lti_tool.models.platform import Platform
from lti_tool.tool_conf import find_platform, registration_for
from referentiel.orm import utcnow
from xapi.evidence import resolve_pending_for_users

log = logging.getLogger(__name__)


def _platform(session: Session, context: CourseContext) -> Platform:
    platform = session.get(Platform, context.platform_id) if context.platform_id else None
    if platform is None or platform.issuer != context.issuer:
        platform = find_platform(session, context.issuer, None)
    if platform is None or not platform.active:
        raise ServiceError("The course's platform registration is not active any more.")
    return platform


def fetch_members(session: Session, context: CourseContext) -> list[dict[str, Any]]:
    if not context.nrps_url:
        raise ServiceError(
            "The platform offers no roster service (NRPS) for this course: enable it in "
            "the tool's settings on the platform (privacy, services)."
        )
    connector = ServiceConnector(registration_for(session, _platform(session, context)))
    service = NamesRolesProvisioningService(
        connector, {"context_memberships_url": context.nrps_url}
    )
    try:
        return [dict(member) for member in service.get_members()]
    except LtiServiceException as error:
        status = error.response.status_code
        log.warning("NRPS refused for context %s: HTTP %s", context.id, status)
        raise ServiceError(f"The platform refused the roster request (HTTP {status}).") from error
    except (LtiException, OSError, ValueError, KeyError) as error:
        log.warning("NRPS failed for context %s: %s", context.id, type(error).__name__)
        raise ServiceError("The roster could not be read from the platform.") from error


def refresh_roster(session: Session, context: CourseContext) -> int:
    """Bring the context's memberships in line with the platform; return the member count."""
    members = fetch_members(session, context)
    seen: set[int] = set()
    members_seen: set[int] = set()
    for member in members:
        sub = member.get("user_id")
        if not isinstance(sub, str) or not sub:
            continue
        user = upsert_user(session, context.issuer, {"sub": sub, **member})
        roles = [r for r in member.get("roles", []) if isinstance(r, str)]
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
