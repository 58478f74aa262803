"""Whether an installation runs as it should: ``lti-tool status``.

One look for the person who keeps the tool running: the schema is the code's, a
référentiel is loaded, platforms and keys are there, statements become evidence and
scores reach gradebooks. Each check says what it saw and, when something needs doing,
the command that does it. A check that fails (``ok`` False) is one a monitor should
page for: the command then exits non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from lti_tool.achievement import outbox
from lti_tool.achievement.models import ScoreOutbox
from lti_tool.backup import client_major
from lti_tool.keys import active_keys
from lti_tool.migrate import revisions
from lti_tool.models import Platform
from lti_tool.worker_heartbeats import latest
from referentiel.models import Framework
from referentiel.orm import utcnow
from xapi import derivation
from xapi.models import Credential, Statement

# Work due this long ago and still not done means nothing is doing it.
STALLED_AFTER = timedelta(minutes=5)
# A worker beats every 30 s; `lti-tool worker --once` from cron at each run, which
# should come every few minutes. Silence this long means none runs.
SILENT_AFTER = timedelta(minutes=15)
NAMED = 3  # workers named in the workers check; the others counted
# What `lti-tool db backup` and `db restore` run on PostgreSQL.
BACKUP_PROGRAMS = ("pg_dump", "pg_restore", "psql")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    seen: str
    todo: str = ""  # what to do, when something needs doing

    def record(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "seen": self.seen, "todo": self.todo}


def status_checks(session: Session, engine: Engine, config: dict[str, Any]) -> list[Check]:
    """Every check, in the order they depend on each other: with the schema behind the
    code, the tables the others read may not exist yet, so it is the only one."""
    schema = _schema(engine)
    if not schema.ok:
        return [schema]
    now = utcnow()
    return [
        schema,
        _referentiels(session),
        _platforms(session),
        _keys(session, now),
        _intake(session),
        _derivation(session, now),
        _workers(session, now),
        _gradebook(session, now),
        _rate_limits(str(config["RATE_LIMIT_STORAGE_URL"])),
        _backups(session, engine),
    ]


def _schema(engine: Engine) -> Check:
    current, heads = revisions(engine)
    where = engine.url.render_as_string(hide_password=True)
    if current == heads:
        return Check("schema", True, f"{where} at {', '.join(sorted(current))} (newest)")
    shown = ", ".join(sorted(current)) or "no schema"
    return Check(
        "schema",
        False,
        f"{where} at {shown}; this version of the tool needs {', '.join(sorted(heads))}",
        "lti-tool db upgrade",
    )


def _referentiels(session: Session) -> Check:
    keys = list(session.scalars(select(Framework.key).order_by(Framework.key)))
    if not keys:
        return Check(
            "referentiels", False, "none loaded", "lti-tool referentiel load diplovis-bgdc"
        )
    return Check("referentiels", True, ", ".join(keys))


def _platforms(session: Session) -> Check:
    counts = {
        active: count
        for active, count in session.execute(
            select(Platform.active, func.count()).group_by(Platform.active)
        )
    }
    active, pending = counts.get(True, 0), counts.get(False, 0)
    seen = f"{active} active, {pending} waiting for activation"
    if pending:
        return Check("platforms", True, seen, "lti-tool platform activate ISSUER")
    if not active:
        return Check("platforms", True, seen, "register one: README, Installing the tool in Moodle")
    return Check("platforms", True, seen)


def _keys(session: Session, now: datetime) -> Check:
    keys = active_keys(session)
    if not keys:
        return Check("signing keys", True, "none yet: the first launch or service call makes one")
    days = (now - keys[0].created_at).days
    return Check(
        "signing keys", True, f"{len(keys)} published, signing with {keys[0].kid} ({days} days old)"
    )


def _intake(session: Session) -> Check:
    credentials = session.scalar(
        select(func.count()).select_from(Credential).where(Credential.revoked_at.is_(None))
    )
    stored, latest = session.execute(select(func.count(), func.max(Statement.stored))).one()
    last = f", the latest stored {latest:%Y-%m-%d %H:%M} UTC" if latest else ""
    return Check(
        "xapi intake",
        True,
        f"{credentials} active credential(s); {stored} statement(s){last}",
        "" if credentials else "lti-tool xapi credentials create --name NAME",
    )


def _derivation(session: Session, now: datetime) -> Check:
    backlog = derivation.backlog(session)
    seen = f"{backlog.waiting} statement(s) waiting, {backlog.failed} set aside"
    if backlog.oldest is not None and now - backlog.oldest > STALLED_AFTER:
        minutes = int((now - backlog.oldest).total_seconds() // 60)
        return Check(
            "evidence derivation",
            False,
            f"{seen}; the oldest has waited {minutes} min",
            "start `lti-tool worker` (EVIDENCE_DERIVATION=worker) or run "
            "`lti-tool evidence queue --drain`",
        )
    if backlog.failed:
        return Check(
            "evidence derivation",
            False,
            seen,
            "lti-tool evidence queue (why), then --retry once fixed",
        )
    return Check("evidence derivation", True, seen)


def _workers(session: Session, now: datetime) -> Check:
    seen = latest(session)
    if not seen:
        return Check(
            "workers",
            True,
            "none has run yet: gradebook scores wait until one does",
            "`lti-tool serve` runs one; beside another server, `lti-tool worker`",
        )
    alive = [w for w in seen if now - w.seen_at <= SILENT_AFTER]
    if not alive:
        last = seen[0]
        return Check(
            "workers",
            False,
            f"none seen for {_age(now - last.seen_at)}: the last, {last.name} "
            f"({last.mode}), at {last.seen_at:%Y-%m-%d %H:%M} UTC",
            "start `lti-tool worker` (or `lti-tool serve`), or check the cron entry "
            "of `lti-tool worker --once` (every few minutes)",
        )
    names = ", ".join(f"{w.name} ({w.mode})" for w in alive[:NAMED])
    if len(alive) > NAMED:  # `worker --once` from cron: one per run
        names += f" and {len(alive) - NAMED} more"
    return Check(
        "workers",
        True,
        f"{len(alive)} seen in the last {SILENT_AFTER.seconds // 60} min, the latest "
        f"{_age(now - alive[0].seen_at)} ago: {names}",
    )


def _age(elapsed: timedelta) -> str:
    seconds = int(elapsed.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def _gradebook(session: Session, now: datetime) -> Check:
    counts = outbox.status_counts(session)
    overdue = session.scalar(
        select(func.count())
        .select_from(ScoreOutbox)
        .where(ScoreOutbox.status == "pending", ScoreOutbox.next_attempt_at < now - STALLED_AFTER)
    )
    dead = counts.get("dead", 0)
    seen = (
        f"{counts.get('delivered', 0)} delivered, {counts.get('pending', 0)} pending, "
        f"{dead} undeliverable"
    )
    if overdue:
        return Check(
            "gradebook delivery",
            False,
            f"{seen}; {overdue} due for more than {STALLED_AFTER.seconds // 60} min",
            "start `lti-tool worker`",
        )
    if dead:
        return Check(
            "gradebook delivery",
            False,
            seen,
            "lti-tool worker dead-letters (why), then lti-tool worker retry --all",
        )
    return Check("gradebook delivery", True, seen)


def _rate_limits(storage_url: str) -> Check:
    scheme = urlsplit(storage_url).scheme  # never more: the URL may hold a password
    if scheme == "memory":
        return Check(
            "rate limits",
            True,
            "counted in each process (memory://)",
            "with several web workers, LTI_TOOL_RATE_LIMIT_STORAGE_URL=redis://HOST:6379",
        )
    return Check("rate limits", True, f"shared ({scheme}://)")


def _backups(session: Session, engine: Engine) -> Check:
    """Whether `lti-tool db backup` and `db restore` can run here: on PostgreSQL they
    need its client programs, of the server's major version or newer. Advice, not a
    failure: an installation may back up another way (its host's snapshots)."""
    if engine.dialect.name != "postgresql":
        return Check("backups", True, "db backup and db restore: built in (SQLite)")
    server = int(session.scalar(text("SHOW server_version_num")) or 0) // 10000
    found = {program: client_major(program) for program in BACKUP_PROGRAMS}
    seen = ", ".join(
        f"{program} {major}" if major else f"no {program}" for program, major in found.items()
    )
    seen += f" (server {server})"
    if all(major and major >= server for major in found.values()):
        return Check("backups", True, seen)
    return Check(
        "backups",
        True,
        seen,
        f"install PostgreSQL's client programs {server} or newer "
        f"(Debian: apt install postgresql-client-{server}): db backup and db restore need them",
    )
