"""Platform registrations (issuer + client id) and their deployments, as admins manage them."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_tool.exceptions import PlatformError
from lti_tool.models.platform import Deployment, Platform

TEXT_LIMIT = 255  # issuer, client id, name and deployment id columns


def _bounded(label: str, value: str) -> str:
    if len(value) > TEXT_LIMIT:
        raise PlatformError(f"{label} is at most {TEXT_LIMIT} characters.")
    return value


def _check_url(label: str, url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.netloc or parts.fragment:
        raise PlatformError(f"{label} must be an http(s) URL without fragment, not {url!r}.")
    return url


def _issuer(issuer: str) -> str:
    issuer = _check_url("The issuer", issuer.strip())
    if urlsplit(issuer).query:
        raise PlatformError("The issuer must not carry a query string (LTI 1.3 Core §5.1.2).")
    return issuer


def save_platform(
    session: Session,
    *,
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: Iterable[str] = (),
    name: str = "",
    auth_audience: str | None = None,
    active: bool = True,
) -> tuple[Platform, bool]:
    """Add a registration, or update the one with this issuer and client id.

    Deployment ids are added, never removed here. Returns the row and whether it is new.
    """
    issuer = _bounded("The issuer", _issuer(issuer))
    client_id = _bounded("The client id", client_id.strip())
    if not client_id:
        raise PlatformError("The client id must not be empty.")
    platform = session.scalar(
        select(Platform).where(Platform.issuer == issuer, Platform.client_id == client_id)
    )
    created = platform is None
    if platform is None:
        platform = Platform(issuer=issuer, client_id=client_id)
        session.add(platform)
        platform.active = active
    platform.auth_login_url = _check_url("The authentication (OIDC) URL", auth_login_url)
    platform.auth_token_url = _check_url("The access token URL", auth_token_url)
    platform.key_set_url = _check_url("The key set URL", key_set_url)
    platform.auth_audience = auth_audience or None
    if name:
        platform.name = _bounded("The name", name)
    session.flush()
    known = {d.deployment_id for d in platform.deployments}
    for deployment_id in deployment_ids:
        deployment_id = _bounded("A deployment id", deployment_id.strip())
        if not deployment_id:
            raise PlatformError("A deployment id must not be empty.")
        if deployment_id not in known:
            platform.deployments.append(Deployment(deployment_id=deployment_id))
            known.add(deployment_id)
    session.flush()
    return platform, created


def list_platforms(session: Session) -> list[Platform]:
    return list(session.scalars(select(Platform).order_by(Platform.issuer, Platform.client_id)))


def _matching(session: Session, issuer: str, client_id: str | None) -> Platform:
    query = select(Platform).where(Platform.issuer == issuer)
    if client_id:
        query = query.where(Platform.client_id == client_id)
    found = list(session.scalars(query))
    if not found:
        raise PlatformError(
            f"No registration for issuer {issuer!r}"
            + (f" and client id {client_id!r}." if client_id else ".")
        )
    if len(found) > 1:
        raise PlatformError(f"Issuer {issuer!r} has {len(found)} registrations: give --client-id.")
    return found[0]


def remove_platform(session: Session, issuer: str, client_id: str | None = None) -> Platform:
    platform = _matching(session, issuer, client_id)
    session.delete(platform)
    session.flush()
    return platform


def set_active(session: Session, issuer: str, client_id: str | None, active: bool) -> Platform:
    platform = _matching(session, issuer, client_id)
    platform.active = active
    session.flush()
    return platform
