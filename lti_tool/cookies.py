"""Cookies that survive inside the LMS iframe when served over https.

A page embedded by Moodle on another site only gets its cookies back when they are
``SameSite=None; Secure``; over plain http (development, or Moodle and the tool on
one site) ``Secure`` cookies would be dropped, so the choice is made per request
from the scheme Flask sees (ProxyFix makes it the client's behind a TLS proxy).
"""

from __future__ import annotations

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface


class SchemeAwareSessionInterface(SecureCookieSessionInterface):
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
