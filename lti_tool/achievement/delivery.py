"""Deliver claimed outbox rows to the platform over AGS, and run the worker loop.

One delivery: the platform registration behind the course, an access token (cached
in the database), the line item (found by tag and resourceId or created, cached),
then the score POST. Outcomes: 2xx delivered; 409 superseded (the platform already
holds a score at least as new: Moodle's answer to a timestamp not newer than its
own, e.g. a re-send after a worker died mid-request); timeouts, connection errors,
429 and 5xx retried with backoff (Retry-After honoured) up to ``max_attempts``, then
dead; other refusals dead at once, with the platform's reason kept for the admin.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lti_tool import ags
from lti_tool.achievement import outbox
from lti_tool.achievement.models import GradebookLineItem, ScoreOutbox
from lti_tool.achievement.outbox import DeliverySettings
from lti_tool.keys import signing_key
from lti_tool.models.people import CourseContext, LtiUser
from lti_tool.models.platform import Deployment, Platform
from lti_tool.models.resource_link import ResourceLink
from lti_tool.platform_token import PlatformTokenError, access_token, forget
from lti_tool.service_client import ServiceCallError
from lti_tool.worker_heartbeats import BEAT_SECONDS, beat, worker_name
from referentiel.orm import utcnow

log = logging.getLogger(__name__)

SCOPES = (ags.SCOPE_LINEITEM, ags.SCOPE_SCORE)
TAG = "competences"
DEFAULT_SCORE_MAXIMUM = 100.0


class Refused(Exception):
    """A delivery that cannot succeed as things stand (no registration, no AGS...)."""


def _platform_for(session: Session, context: CourseContext) -> Platform:
    platform = session.scalar(
        select(Platform)
        .join(Deployment, Deployment.platform_id == Platform.id)
        .where(
            Platform.issuer == context.issuer,
            Deployment.deployment_id == context.deployment_id,
            Platform.active.is_(True),
        )
        .order_by(Platform.id)
        .limit(1)
    ) or session.scalar(
        select(Platform)
        .where(Platform.issuer == context.issuer, Platform.active.is_(True))
        .order_by(Platform.id)
        .limit(1)
    )
    if platform is None:
        raise Refused(f"no active platform registration for {context.issuer}")
    return platform


def resource_id(link: ResourceLink) -> str:
    return f"{link.framework_key}/{link.bloc_key}" if link.bloc_key else link.framework_key


def _line_item(
    session: Session, client: ags.AgsClient, link: ResourceLink, context: CourseContext
) -> GradebookLineItem:
    """The link's line item: cached, else the launch's own, else found by tag and
    resourceId, else created (AGS 2.0 §3.2). The platform's answer is checked
    (:meth:`ags.LineItem.from_json`) before it is cached: an unusable one is a
    ``ServiceCallError``, dead-lettered with its reason.

    The resource link row is locked while resolving, so two workers never create two
    gradebook columns for one link: the second one waits, then finds the cache.
    """
    cached_query = select(GradebookLineItem).where(GradebookLineItem.resource_link_id == link.id)
    cached = session.scalar(cached_query)
    if cached is not None and _usable(cached):
        return cached
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(ResourceLink.id).where(ResourceLink.id == link.id).with_for_update())
    else:
        outbox.lock_write(session)
    cached = session.scalar(cached_query.execution_options(populate_existing=True))
    if cached is not None:
        if _usable(cached):
            return cached
        # Cached before line items were checked (a maximum of 0 or inf): resolve again.
        session.execute(delete(GradebookLineItem).where(GradebookLineItem.id == cached.id))
    if link.lineitem_url:
        # Its id must stay on the origin of the launch's line items endpoint.
        item = client.get_line_item(
            link.lineitem_url, endpoint=context.ags_lineitems_url or link.lineitem_url
        )
    else:
        if not context.ags_lineitems_url:
            raise Refused("the course gave no AGS line items endpoint (the tool lacks AGS)")
        wanted = resource_id(link)
        found = [
            i
            for i in client.find_line_items(
                context.ags_lineitems_url,
                resource_link_id=link.resource_link_id,
                resource_id=wanted,
                tag=TAG,
            )
            if i.tag == TAG and i.resource_id == wanted
        ]
        item = (
            found[0]
            if found
            else client.create_line_item(
                context.ags_lineitems_url,
                {
                    "label": link.title or f"Compétences {wanted}",
                    "scoreMaximum": DEFAULT_SCORE_MAXIMUM,
                    "tag": TAG,
                    "resourceId": wanted,
                    "resourceLinkId": link.resource_link_id,
                },
            )
        )
    row = GradebookLineItem(
        resource_link_id=link.id,
        lineitem_url=item.url,
        score_maximum=item.score_maximum,
        label=item.label,
    )
    session.add(row)
    session.flush()
    return row


def _usable(row: GradebookLineItem) -> bool:
    return math.isfinite(row.score_maximum) and 0 < row.score_maximum <= ags.MAX_SCORE_MAXIMUM


def score_payload(row: ScoreOutbox, user_id: str, score_maximum: float) -> dict[str, Any]:
    """The AGS score (§3.4.7): scoreGiven on the line item's own maximum."""
    return {
        "userId": user_id,
        "scoreGiven": round(row.share * score_maximum, 4),
        "scoreMaximum": score_maximum,
        "comment": row.comment,
        "timestamp": row.score_timestamp.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "activityProgress": row.activity_progress,
        "gradingProgress": row.grading_progress,
    }


def deliver_one(
    session: Session,
    row_id: int,
    worker: str,
    settings: DeliverySettings,
    http: requests.Session,
) -> str:
    """Deliver one claimed row; returns its new status. Commits its own steps."""
    row = session.get(ScoreOutbox, row_id)
    if row is None:
        return "gone"
    payload: dict[str, Any] | None = None
    try:
        link = session.get(ResourceLink, row.resource_link_id)
        learner = session.get(LtiUser, row.learner_id)
        if link is None or learner is None:
            raise Refused("the resource link or the learner no longer exists")
        context = session.get(CourseContext, link.context_id)
        assert context is not None
        platform = _platform_for(session, context)
        signing_key(session)  # a first key must be published before the platform checks it
        session.commit()
        token = access_token(session, platform, SCOPES, http=http, timeout=settings.timeout)
        session.commit()
        client = ags.AgsClient(token, http=http, timeout=settings.timeout)
        try:
            item = _line_item(session, client, link, context)
            session.commit()
            payload = score_payload(row, learner.sub, item.score_maximum)
            client.post_score(item.lineitem_url, payload)
        except ServiceCallError as error:
            session.rollback()
            if error.status == 401:
                forget(session, platform, SCOPES)  # expired or revoked: ask again next time
                session.commit()
                error.retryable = True
            if error.status == 404:  # the line item was deleted in the LMS: find it again
                session.execute(
                    delete(GradebookLineItem).where(GradebookLineItem.resource_link_id == link.id)
                )
                session.commit()
                error.retryable = True
            raise
    except (ServiceCallError, PlatformTokenError) as error:
        session.rollback()
        if isinstance(error, ServiceCallError) and error.status == 409:
            outbox.mark_superseded(
                session,
                row_id,
                worker,
                "the platform already holds a score at least as new (409)",
            )
            return "superseded"
        # payload is still None when the token failed: it is built once a token is held.
        return outbox.mark_failed(
            session,
            row_id,
            worker,
            str(error),
            retryable=error.retryable,
            retry_after=error.retry_after,
            settings=settings,
            payload=payload,
        )
    except Refused as error:
        session.rollback()
        return outbox.mark_failed(
            session, row_id, worker, str(error), retryable=False, settings=settings
        )
    outbox.mark_delivered(session, row_id, worker, payload)
    return "delivered"


@dataclass
class Worker:
    """Claims and delivers rows until told to stop (``stop`` is set by SIGTERM/SIGINT).

    ``mode`` says how it runs (``worker``, ``worker --once``, ``serve``) in its
    heartbeats (:mod:`lti_tool.worker_heartbeats`).
    """

    new_session: Callable[[], Session]
    settings: DeliverySettings = field(default_factory=DeliverySettings)
    name: str = field(default_factory=worker_name)
    mode: str = "worker"
    started_at: datetime = field(default_factory=utcnow)
    poll_seconds: float = 2.0
    stop: threading.Event = field(default_factory=threading.Event)
    http: requests.Session = field(default_factory=requests.Session)
    delivered: int = 0
    on_idle: Callable[[Session], None] | None = None

    def step(self) -> int:
        """Claim a batch and deliver it; returns how many rows were claimed."""
        with self.new_session() as session:
            claimed = outbox.claim(session, self.name, self.settings)
            for index, row_id in enumerate(claimed):
                if self.stop.is_set():
                    outbox.release(session, claimed[index:], self.name)
                    break
                try:
                    status = deliver_one(session, row_id, self.name, self.settings, self.http)
                except Exception as error:  # a bug or a database hiccup: retry later, keep going
                    log.exception("score #%s: unexpected failure", row_id)
                    session.rollback()
                    status = outbox.mark_failed(
                        session,
                        row_id,
                        self.name,
                        f"unexpected {type(error).__name__}: {error}",
                        retryable=True,
                        settings=self.settings,
                    )
                self.delivered += status == "delivered"
                log.info("score #%s: %s", row_id, status)
            return len(claimed)

    def next_due_in(self) -> float | None:
        """Seconds until the next pending row is due (None: nothing pending)."""
        with self.new_session() as session:
            due = session.scalar(
                select(func.min(ScoreOutbox.next_attempt_at)).where(
                    ScoreOutbox.status.in_(("pending", "sending"))
                )
            )
            leased = session.scalar(
                select(func.min(ScoreOutbox.lease_until)).where(ScoreOutbox.status == "sending")
            )
        moments = [m for m in (due, leased) if m is not None]
        if not moments:
            return None
        return max(0.0, (min(moments) - utcnow()).total_seconds())

    def beat(self) -> None:
        """Record that this worker is alive (``lti-tool status`` reads it)."""
        with self.new_session() as session:
            beat(session, self.name, self.mode, self.started_at)

    def drain(self, max_wait: float) -> int:
        """Deliver until nothing is left, waiting out backoffs shorter than ``max_wait``."""
        self.beat()
        while not self.stop.is_set():
            if self.step():
                continue
            wait = self.next_due_in()
            if wait is None or wait > max_wait:
                break
            self.stop.wait(min(wait, max_wait) + 0.01)
        return self.delivered

    def run(self) -> None:
        """The long-running loop: deliver, then poll; stops between deliveries.

        A database that is briefly unavailable or locked does not end the loop: the
        worker logs it and tries again at the next poll.
        """
        next_beat = 0.0
        while not self.stop.is_set():
            try:
                if time.monotonic() >= next_beat:
                    self.beat()
                    next_beat = time.monotonic() + BEAT_SECONDS
                if self.step():
                    continue
                if self.on_idle is not None:
                    with self.new_session() as session:
                        self.on_idle(session)
                wait = self.next_due_in()
            except DBAPIError as error:
                log.warning("database unavailable, trying again: %s", type(error.orig).__name__)
                wait = None
            self.stop.wait(self.poll_seconds if wait is None else min(wait, self.poll_seconds))
