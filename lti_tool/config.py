"""Configuration: defaults, then ``LTI_TOOL_*`` environment variables, then a test mapping.

Read only inside :func:`lti_tool.create_app`, never at import time.
"""

from __future__ import annotations

import math
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lti_tool.exceptions import ConfigurationError

ENV_PREFIX = "LTI_TOOL_"

DEFAULTS: dict[str, Any] = {
    "BASE_URL": "http://127.0.0.1:8000",
    "DATABASE_URL": None,  # a SQLite file in the instance folder
    # "full": each commit waits for the disk; "relaxed": see lti_tool.database.make_engine
    "DATABASE_DURABILITY": "full",
    "XAPI_MAX_BODY_BYTES": 32 * 1024 * 1024,  # one xAPI request, attachments included
    "SECRET_KEY": None,  # generated once and kept in the instance folder
    "TOOL_NAME": "Compétences DIPLOVIS",
    "DEFAULT_LOCALE": "fr",
    "LOG_LEVEL": "INFO",
    "TRUSTED_PROXIES": 0,  # how many reverse proxies set X-Forwarded-* (ProxyFix)
    # Rate limits of the anonymous endpoints, per client address (lti_tool.rate_limits).
    # memory:// counts in each process: with several workers (gunicorn -w N) set
    # redis://host:6379 so that they share the counts.
    "RATE_LIMIT_ENABLED": True,
    "RATE_LIMIT_STORAGE_URL": "memory://",
    "RATE_LIMIT_REGISTRATION": "10 per hour",
    "RATE_LIMIT_LAUNCH": "1200 per minute",  # each of login, launch: a classroom behind NAT
    "RATE_LIMIT_XAPI_AUTH_FAILURES": "60 per minute",  # 401s per address, then 429s
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_HTTPONLY": True,
    # Platforms registered by LTI Dynamic Registration accept launches at once; set
    # to false to keep them pending until `lti-tool platform activate`.
    "REGISTRATION_AUTO_ACTIVATE": True,
    # Platforms on private or loopback addresses may register dynamically: None lets
    # them only when BASE_URL is itself such an address (see dynamic_registration).
    "REGISTRATION_PRIVATE_HOSTS": None,
    # Gradebook delivery (lti-tool worker): retries with exponential backoff and jitter.
    "AGS_MAX_ATTEMPTS": 8,
    "AGS_RETRY_BASE_SECONDS": 2.0,
    "AGS_RETRY_MAX_SECONDS": 600.0,
    "AGS_TIMEOUT_SECONDS": 10.0,
    "AGS_LEASE_SECONDS": 120.0,
    # A launch's call to the platform (its key set): each wait for an answer.
    "PLATFORM_TIMEOUT_SECONDS": 10.0,
    "WORKER_POLL_SECONDS": 0.5,
    # Where stored statements become evidence: background | inline | worker
    # (see lti_tool.evidence_drainer).
    "EVIDENCE_DERIVATION": "background",
    # A derivation round (background, worker) starts at once when EVIDENCE_ROUND_ROWS
    # statements wait, else once no statement has been queued for
    # EVIDENCE_DELAY_SECONDS, or once the first waiting has waited
    # EVIDENCE_MAX_DELAY_SECONDS while more kept coming; an idle loop looks at the queue
    # every EVIDENCE_POLL_SECONDS (an empty queue: one small read).
    "EVIDENCE_ROUND_ROWS": 250,
    "EVIDENCE_DELAY_SECONDS": 0.1,
    "EVIDENCE_MAX_DELAY_SECONDS": 0.5,
    "EVIDENCE_POLL_SECONDS": 0.1,
}

# Variables whose text is turned into another type.
_INT_KEYS = {
    "TRUSTED_PROXIES",
    "XAPI_MAX_BODY_BYTES",
    "AGS_MAX_ATTEMPTS",
    "EVIDENCE_ROUND_ROWS",
}
_FLOAT_KEYS = {
    "AGS_RETRY_BASE_SECONDS",
    "AGS_RETRY_MAX_SECONDS",
    "AGS_TIMEOUT_SECONDS",
    "AGS_LEASE_SECONDS",
    "PLATFORM_TIMEOUT_SECONDS",
    "WORKER_POLL_SECONDS",
    "EVIDENCE_DELAY_SECONDS",
    "EVIDENCE_MAX_DELAY_SECONDS",
    "EVIDENCE_POLL_SECONDS",
}
_BOOL_KEYS = {
    "SESSION_COOKIE_HTTPONLY",
    "REGISTRATION_AUTO_ACTIVATE",
    "REGISTRATION_PRIVATE_HOSTS",
    "RATE_LIMIT_ENABLED",
}


def from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX) :]
        if key in _INT_KEYS:
            values[key] = _number(name, raw, int)
        elif key in _FLOAT_KEYS:
            values[key] = _number(name, raw, float)
        elif key in _BOOL_KEYS:
            values[key] = raw.strip().lower() in {"1", "true", "yes", "on"}
        else:
            values[key] = raw
    return values


def _number(name: str, raw: str, kind: type[int] | type[float]) -> int | float:
    """A numeric setting: a finite, non-negative number, or one line saying what is wrong."""
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number, not {raw!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be a finite number of at least 0, not {raw!r}")
    return value


def kept_secret_key(instance_path: Path) -> str:
    """The secret key kept in the instance folder, created on first run (owner-only).

    Several workers may start at once: the file is created exclusively and whoever
    loses the race reads the winner's key.
    """
    path = instance_path / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'lti_tool.sqlite3'}"
