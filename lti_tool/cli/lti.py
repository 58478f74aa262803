"""``lti-tool keys ...`` and ``lti-tool platform ...``: the tool's keys and LMS registrations."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from lti_tool import keys as tool_keys
from lti_tool import platforms
from lti_tool.database import db
from lti_tool.exceptions import PlatformError


@click.group("keys")
def keys_group() -> None:
    """The tool's RSA signing keys (published at /lti/jwks)."""


@keys_group.command("list")
@with_appcontext
def keys_list() -> None:
    """List keys, newest first, with their state."""
    session = db.session
    tool_keys.signing_key(session)
    session.commit()
    active = tool_keys.active_keys(session)
    signing = active[0].kid if active else None
    from sqlalchemy import select

    from lti_tool.models.tool_key import ToolKey

    for key in session.scalars(
        select(ToolKey).order_by(ToolKey.created_at.desc(), ToolKey.id.desc())
    ):
        state = "signing" if key.kid == signing else "retired" if key.retired_at else "published"
        click.echo(f"{key.kid}  {state:9}  created {key.created_at:%Y-%m-%d %H:%M} UTC")


@keys_group.command("rotate")
@with_appcontext
def keys_rotate() -> None:
    """Add a new signing key; older keys stay published until retired."""
    key = tool_keys.rotate(db.session)
    db.session.commit()
    click.echo(f"New signing key {key.kid}; previous keys stay published until retired.")


@keys_group.command("retire")
@click.argument("kid")
@with_appcontext
def keys_retire(kid: str) -> None:
    """Stop publishing key KID (platforms can no longer verify what it signed)."""
    session = db.session
    active = tool_keys.active_keys(session)
    if not any(k.kid == kid for k in active):
        raise PlatformError(f"No published key with kid {kid!r}.")
    if len(active) == 1:
        raise PlatformError(f"{kid} is the only published key: rotate first.")
    tool_keys.retire(session, kid)
    session.commit()
    click.echo(f"Key {kid} retired.")


@click.group("platform")
def platform_group() -> None:
    """LMS platform registrations (issuer, client id, endpoints, deployments)."""


@platform_group.command("add")
@click.option("--issuer", required=True, help="Platform issuer (Moodle: its wwwroot).")
@click.option("--client-id", required=True, help="Client id the platform gave the tool.")
@click.option("--auth-login-url", required=True, help="OIDC authentication URL.")
@click.option("--auth-token-url", required=True, help="OAuth2 access token URL.")
@click.option("--key-set-url", required=True, help="Platform public keyset (JWKS) URL.")
@click.option(
    "--deployment-id", "deployment_ids", multiple=True, help="Deployment id (repeatable)."
)
@click.option("--name", default="", help="A name for people.")
@click.option("--auth-audience", default=None, help="Token audience, when not the token URL.")
@with_appcontext
def platform_add(
    issuer: str,
    client_id: str,
    auth_login_url: str,
    auth_token_url: str,
    key_set_url: str,
    deployment_ids: tuple[str, ...],
    name: str,
    auth_audience: str | None,
) -> None:
    """Register a platform, or update the registration with this issuer and client id."""
    platform, created = platforms.save_platform(
        db.session,
        issuer=issuer,
        client_id=client_id,
        auth_login_url=auth_login_url,
        auth_token_url=auth_token_url,
        key_set_url=key_set_url,
        deployment_ids=deployment_ids,
        name=name,
        auth_audience=auth_audience,
    )
    db.session.commit()
    count = len(platform.deployments)
    verb = "Registered" if created else "Updated"
    click.echo(f"{verb} {platform.issuer} (client {platform.client_id}, {count} deployment(s)).")


@platform_group.command("list")
@with_appcontext
def platform_list() -> None:
    """List registrations with their deployments."""
    rows = platforms.list_platforms(db.session)
    if not rows:
        click.echo("No platform registered.")
    for p in rows:
        deployments = ",".join(d.deployment_id for d in p.deployments) or "-"
        state = "active" if p.active else "pending"
        click.echo(
            f"{p.issuer}  client={p.client_id}  deployments={deployments}  {state}  {p.name}"
        )


@platform_group.command("remove")
@click.argument("issuer")
@click.option("--client-id", default=None, help="Needed when the issuer has several.")
@with_appcontext
def platform_remove(issuer: str, client_id: str | None) -> None:
    """Remove a registration and its deployments."""
    platform = platforms.remove_platform(db.session, issuer, client_id)
    db.session.commit()
    click.echo(f"Removed {platform.issuer} (client {platform.client_id}).")


@platform_group.command("activate")
@click.argument("issuer")
@click.option("--client-id", default=None, help="Needed when the issuer has several.")
@with_appcontext
def platform_activate(issuer: str, client_id: str | None) -> None:
    """Accept launches from a pending registration (made by Dynamic Registration)."""
    platform = platforms.set_active(db.session, issuer, client_id, True)
    db.session.commit()
    click.echo(f"Activated {platform.issuer} (client {platform.client_id}).")


@platform_group.command("deactivate")
@click.argument("issuer")
@click.option("--client-id", default=None, help="Needed when the issuer has several.")
@with_appcontext
def platform_deactivate(issuer: str, client_id: str | None) -> None:
    """Refuse launches from a registration without removing it."""
    platform = platforms.set_active(db.session, issuer, client_id, False)
    db.session.commit()
    click.echo(f"Deactivated {platform.issuer} (client {platform.client_id}).")
