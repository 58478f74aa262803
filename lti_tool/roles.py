"""From the LTI roles claim to the tool's three audiences (LTI 1.3 Core §5.3.7, A.2).

Unknown roles are accepted and treated as learner, the least-privileged audience;
several roles give the most privileged audience among them.
"""

from __future__ import annotations

from collections.abc import Iterable

from lti_tool.access import Role

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"

ADMIN_ROLES = frozenset(
    {
        LIS + "system/person#Administrator",
        LIS + "system/person#SysAdmin",
        LIS + "institution/person#Administrator",
        LIS + "institution/person#SysAdmin",
    }
)


def _context_role(role: str) -> tuple[str, str | None]:
    """('Instructor', 'TeachingAssistant') for membership/Instructor#TeachingAssistant."""
    if role.startswith(LIS + "membership#"):
        return role.removeprefix(LIS + "membership#"), None
    if role.startswith(LIS + "membership/"):
        principal, _, sub = role.removeprefix(LIS + "membership/").partition("#")
        return principal, sub or None
    if "/" not in role and "#" not in role:  # simple names from LTI 1.1 habits
        return role, None
    return "", None


def is_instructor_role(role: str) -> bool:
    principal, sub = _context_role(role)
    return principal in {"Instructor", "TeachingAssistant", "Administrator"} or (
        sub == "TeachingAssistant"
    )


def is_learner_role(role: str) -> bool:
    principal, _ = _context_role(role)
    return principal == "Learner"


def audience(roles: Iterable[str]) -> Role:
    roles = list(roles)
    if any(r in ADMIN_ROLES for r in roles):
        return "admin"
    if any(is_instructor_role(r) for r in roles):
        return "instructor"
    return "learner"
