"""Input no database column can hold, refused at the door with 400 or 404 rather than
failing deep down: row ids beyond 32 bits in a URL, and NUL characters (which
PostgreSQL text cannot store) in a query, form field or path."""

from __future__ import annotations

from flask import Flask, request
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

NUL = "\x00"


class RowIdConverter(IntegerConverter):
    """``<int:...>`` in every route: an integer primary key (32-bit on PostgreSQL), so
    a larger number is no such row (404), not an overflow."""

    def __init__(self, map: object, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)  # type: ignore[arg-type]


def _refuse_nul() -> None:
    values = [*request.args.values(), *(request.view_args or {}).values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += request.form.values()
    if any(isinstance(value, str) and NUL in value for value in values):
        raise BadRequest("a parameter contains a NUL character, which no text may hold")


def init_app(app: Flask) -> None:
    """Before the blueprints: their routes are built with the bounded converter."""
    app.url_map.converters["int"] = RowIdConverter
    app.before_request(_refuse_nul)
