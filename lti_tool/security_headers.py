"""Headers that let the pages live inside the LMS's iframe, and nowhere else.

Embedding is governed by CSP ``frame-ancestors`` listing the origins of the
registered platforms (their issuer and their OIDC login URL) plus the tool itself.
No ``X-Frame-Options``: DENY or SAMEORIGIN would break Moodle's iframe, and
browsers that know ``frame-ancestors`` ignore it anyway. The origins are read from
the platform table on each HTML response, so a platform registered by another worker
is allowed at once (no per-process cache).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from sqlalchemy import select

from lti_tool.database import db
from lti_tool.models import Platform


def origin_of(url: str | None) -> str | None:
    """``https://moodle.example.org/sub/path`` → ``https://moodle.example.org``."""
    if not url:
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def platform_origins() -> list[str]:
    rows = db.session.execute(
        select(Platform.issuer, Platform.auth_login_url).where(Platform.active.is_(True))
    ).all()
    origins = {origin for row in rows for origin in (origin_of(row[0]), origin_of(row[1]))}
    return sorted(o for o in origins if o)


def content_security_policy(platforms: list[str]) -> str:
    others = " ".join(platforms)
    directives = [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'self'",
        # Deep Linking posts its response back to the platform.
        f"form-action 'self' {others}".strip(),
        f"frame-ancestors 'self' {others}".strip(),
    ]
    return "; ".join(directives)


def _add_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    # Launch tokens travel in URLs: never send them to another site in Referer.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        try:
            origins = platform_origins()
        except Exception:  # the database is down: still answer, embeddable by self only
            db.session.rollback()
            origins = []
        response.headers["Content-Security-Policy"] = content_security_policy(origins)
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
