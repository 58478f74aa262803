"""``lti-tool serve``: the zero-setup server (waitress), with the URLs an admin needs.

It also delivers gradebook scores, in a thread doing what ``lti-tool worker`` does, so
that the embedded default is whole without a second process to run. Beside a separate
``lti-tool worker`` that thread is harmless: deliveries are claimed with a lease, never
sent twice.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from lti_tool import migrate
from lti_tool.achievement.delivery import Worker
from lti_tool.cli.worker import new_worker
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
@click.option(
    "--deliver/--no-deliver",
    default=True,
    show_default=True,
    help="Deliver gradebook scores in a thread (--no-deliver: `lti-tool worker` does).",
)
@with_appcontext
def serve_command(host: str, port: int, threads: int, deliver: bool) -> None:
    """Run the tool with waitress (upgrading the database first); SIGTERM or Ctrl-C
    stops it after the requests in progress."""
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
    delivery = _Delivery(app) if deliver else None
    click.echo(
        "Gradebook scores: delivered by this server."
        if deliver
        else "Gradebook scores: left to `lti-tool worker` (--no-deliver)."
    )
    # waitress ends its loop on SystemExit as on Ctrl-C, finishing what is in progress.
    previous = signal.signal(signal.SIGTERM, _exit)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        if delivery is not None:
            delivery.stop()
    click.echo("Stopped.")


class _Delivery:
    """The delivery worker's thread. Stopping lets a delivery under way finish (up to
    the platform's timeout); one cut short is claimed again when its lease ends."""

    def __init__(self, app: Flask) -> None:
        self.worker: Worker = new_worker("serve")
        self.thread = threading.Thread(
            target=self._run, args=(app,), name="gradebook-delivery", daemon=True
        )
        self.thread.start()

    def _run(self, app: Flask) -> None:
        with app.app_context():
            self.worker.run()

    def stop(self) -> None:
        self.worker.stop.set()
        self.thread.join(self.worker.settings.timeout + 1)


def _exit(_signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)
