"""Liveness and readiness endpoints for operators and load balancers."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from lti_tool.database import db

bp = Blueprint("health", __name__)


@bp.get("/__heartbeat__")
def heartbeat() -> ResponseReturnValue:
    """The process answers."""
    return jsonify({"status": "ok"})


@bp.get("/__lbheartbeat__")
def ready() -> ResponseReturnValue:
    """The database answers; 503 otherwise."""
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        return jsonify({"status": "database unavailable"}), 503
    return jsonify({"status": "ok"})
