"""``lti-tool serve``: the production WSGI server (waitress), with the URLs an admin needs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool import migrate
from lti_tool.database import db
from lti_tool.registration_urls import registration_urls


def admin_urls(base_url: str) -> dict[str, str]:
    """The URLs an LMS admin copies into the platform's tool registration."""
    return {
        **registration_urls(base_url),
        "xAPI endpoint": f"{base_url}/xapi/",
        "Référentiel (Moodle CSV)": f"{base_url}/referentiels/diplovis-bgdc.csv",
    }


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="TCP port."
)
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="Worker threads.",
)
@with_appcontext
def serve_command(host: str, port: int, threads: int) -> None:
    """Run the tool with waitress (upgrading the database first)."""
    from waitress import create_server

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(db.engine)
    # Bound before anything is printed: a port in use or an unknown host fails here,
    # as one line, and the banner only ever names an address that answers.
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="lti-tool")
    except ValueError as error:  # waitress: a host that does not resolve
        raise click.BadParameter(str(error), param_hint="'--host'") from None
    click.echo(f"Serving on http://{host}:{port} (public base URL {app.config['BASE_URL']})")
    for label, url in admin_urls(app.config["BASE_URL"]).items():
        click.echo(f"  {label}: {url}")
    server.run()
