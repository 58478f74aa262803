"""``lti-tool worker``: derive queued evidence, deliver queued gradebook scores over AGS;
dead letters and retries."""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_tool import evidence_drainer
from lti_tool.achievement import outbox, recompute
from lti_tool.achievement.delivery import Worker
from lti_tool.achievement.outbox import DeliverySettings
from lti_tool.cli.arguments import ROW_ID
from lti_tool.config import DEFAULTS
from lti_tool.database import db
from xapi import derivation


def delivery_settings(config: Any, **overrides: Any) -> DeliverySettings:
    values: dict[str, Any] = {
        "max_attempts": int(config["AGS_MAX_ATTEMPTS"]),
        "base_delay": float(config["AGS_RETRY_BASE_SECONDS"]),
        "max_delay": float(config["AGS_RETRY_MAX_SECONDS"]),
        "timeout": float(config["AGS_TIMEOUT_SECONDS"]),
        "lease_seconds": float(config["AGS_LEASE_SECONDS"]),
    }
    values.update({k: v for k, v in overrides.items() if v is not None})
    return DeliverySettings(**values)


@click.group("worker", invoke_without_command=True)
@click.option("--once", is_flag=True, help="Deliver what is queued, then exit.")
@click.option(
    "--max-wait",
    default=30.0,
    show_default=True,
    type=click.FloatRange(0, 86400),
    help="With --once: longest backoff to wait out before exiting.",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(1, 86400),
    default=None,
    help="Claim lease (default from config).",
)
@click.pass_context
@with_appcontext
def worker_group(
    ctx: click.Context, once: bool, max_wait: float, lease_seconds: float | None
) -> None:
    """Derive the evidence of queued statements and deliver gradebook scores to the
    platforms (AGS). Stops cleanly on SIGTERM or Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    if current_app.config["BASE_URL"] == DEFAULTS["BASE_URL"]:
        click.echo(
            f"Warning: LTI_TOOL_BASE_URL is not set (using {DEFAULTS['BASE_URL']}): "
            "statements tagged with the competency IRIs of the tool's real address will "
            "not become evidence here. Give the worker the web server's settings.",
            err=True,
        )
    worker = new_worker("worker --once" if once else "worker", lease_seconds)

    def stop(signum: int, _frame: FrameType | None) -> None:
        worker.stop.set()

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        _work(worker, once, max_wait)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def new_worker(mode: str, lease_seconds: float | None = None) -> Worker:
    """A delivery worker on the current app's settings, which also recomputes the
    achievement of deadlines passed while it has nothing to deliver."""
    return Worker(
        new_session=db.new_session,
        settings=delivery_settings(current_app.config, lease_seconds=lease_seconds),
        mode=mode,
        poll_seconds=float(current_app.config["WORKER_POLL_SECONDS"]),
        on_idle=_recompute_expired,
    )


def _work(worker: Worker, once: bool, max_wait: float) -> None:
    if once:
        # What is queued becomes evidence first, so that the scores it moves go out too.
        with db.new_session() as session:
            derivation.drain(session)
        delivered = worker.drain(max_wait)
        with db.new_session() as session:
            waiting = sum(
                count
                for status, count in outbox.status_counts(session).items()
                if status in ("pending", "sending")
            )
            backlog = derivation.backlog(session)
        click.echo(
            f"Delivered {delivered} score(s); {waiting} still queued. "
            f"{backlog.waiting} statement(s) wait for evidence, {backlog.failed} set aside."
        )
        return
    click.echo(f"Worker {worker.name} deriving evidence and delivering scores (Ctrl-C to stop).")
    # Derivation in a thread of its own, which looks at its queue far more often than
    # deliveries are polled.
    drainer = evidence_drainer.new_drainer(current_app)
    thread = drainer.start_thread()
    try:
        worker.run()
    finally:
        drainer.stop.set()
        thread.join()
    click.echo(f"Worker stopped after delivering {worker.delivered} score(s).")


def _recompute_expired(session: Any) -> None:
    if recompute.recompute_expired(session):
        session.commit()


@worker_group.command("dead-letters")
@click.option("--platform", "issuer", default=None, help="Only this platform's issuer.")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
@with_appcontext
def dead_letters_command(issuer: str | None, as_json: bool) -> None:
    """List scores that could not be delivered."""
    rows = outbox.dead_letters(db.session, issuer)
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "id": r.id,
                        "resource_link_id": r.resource_link_id,
                        "learner_id": r.learner_id,
                        "share": r.share,
                        "timestamp": r.score_timestamp.isoformat(),
                        "attempts": r.attempts,
                        "error": r.last_error,
                    }
                    for r in rows
                ],
                ensure_ascii=False,
                indent=2,
            )
        )
        return
    for r in rows:
        click.echo(
            f"#{r.id} link {r.resource_link_id} learner {r.learner_id} "
            f"share {r.share:.2f} at {r.score_timestamp.isoformat()} "
            f"after {r.attempts} attempt(s): {r.last_error}"
        )
    click.echo(f"{len(rows)} dead letter(s).")


@worker_group.command("retry")
@click.argument("ids", nargs=-1, type=ROW_ID)
@click.option("--all", "retry_all", is_flag=True, help="Every dead letter.")
@click.option("--platform", "issuer", default=None, help="With --all: only this platform's.")
@with_appcontext
def retry_command(ids: tuple[int, ...], retry_all: bool, issuer: str | None) -> None:
    """Queue dead letters again: give their ids, or --all."""
    if not ids and not retry_all:
        raise click.UsageError("give dead-letter ids or --all")
    if ids and retry_all:
        raise click.UsageError("give dead-letter ids or --all, not both")
    if issuer and not retry_all:
        raise click.UsageError("--platform goes with --all")
    requeued = outbox.retry(db.session, None if retry_all else ids, actor="cli", issuer=issuer)
    missing = sorted(set(ids) - set(requeued))
    if missing:
        click.echo(
            f"Not dead letters (left alone): {', '.join(f'#{i}' for i in missing)}", err=True
        )
    click.echo(f"Queued {len(requeued)} score(s) again.")
    if missing:
        sys.exit(1)
