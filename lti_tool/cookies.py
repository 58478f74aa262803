"""Cookies that survive inside the LMS iframe when served over https.

A page embedded by Moodle on another site only gets its cookies back when they are
``SameSite=None; Secure``; over plain http (development, or Moodle and the tool on
one site) ``Secure`` cookies would be dropped, so the choice is made per request
from the scheme Flask sees (ProxyFix makes it the client's behind a TLS proxy).
"""

from __future__ import annotations

from flask import Flask, Request, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

# Paths whose clients are programs with credentials of their own (xAPI activity
# providers, health probes): they carry no session cookie and are given none.
COOKIELESS_PREFIXES = ("/xapi/", "/__heartbeat__", "/__lbheartbeat__")


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        """An empty session, never saved, on the cookieless paths: opening a cookie
        session (a signing serializer per request) was 3% of a single xAPI POST."""
        if request.path.startswith(COOKIELESS_PREFIXES):
            return self.session_class()
        return super().open_session(app, request)

    def get_cookie_samesite(self, app: Flask) -> str | None:
        if request and request.is_secure:
            return "None"
        return super().get_cookie_samesite(app)

    def get_cookie_secure(self, app: Flask) -> bool:
        if request and request.is_secure:
            return True
        return super().get_cookie_secure(app)


def init_app(app: Flask) -> None:
    app.session_interface = SchemeAwareSessionInterface()
