"""What the console says when a command fails for a reason outside its own checks.

Domain errors carry a message meant for the user already. The others (the database
unreachable or not upgraded, a file that cannot be written, a port in use, an
argument that is not UTF-8) are described here in one line, without a stack trace and
without the values a failed SQL statement carried (the engine hides them).
"""

from __future__ import annotations

from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from lti_tool.exceptions import LtiToolError
from referentiel.exceptions import ReferentielError
from xapi.exceptions import XapiError

DOMAIN_ERRORS: tuple[type[Exception], ...] = (LtiToolError, ReferentielError, XapiError)
# What a command may meet besides its own errors, each told in one line.
OUTSIDE_ERRORS: tuple[type[Exception], ...] = (
    SQLAlchemyError,
    CommandError,
    OSError,
    UnicodeError,
)
UPGRADE_HINT = "the database is not set up or not up to date: run `lti-tool db upgrade`"
# How SQLite and PostgreSQL say that a table or column the code expects is missing.
_SCHEMA_MISSING = ("no such table", "no such column", "UndefinedTable", "UndefinedColumn")


def describe(error: Exception) -> str:
    """One line for the user: what went wrong, and what to do when that is known."""
    if isinstance(error, DOMAIN_ERRORS):
        return str(error)
    if isinstance(error, DBAPIError):
        return _database_failure(error)
    if isinstance(error, SQLAlchemyError):
        return f"database error: {_first_line(error)}"
    if isinstance(error, CommandError):
        return f"database migration: {_first_line(error)}"
    if isinstance(error, UnicodeError):
        return "a value given is not valid UTF-8 text"
    if isinstance(error, OSError):
        where = f": {error.filename}" if error.filename else ""
        return f"{error.strerror or _first_line(error)}{where}"
    return _first_line(error)


def _database_failure(error: DBAPIError) -> str:
    original = error.orig
    kind = type(original).__name__
    text = _first_line(original) if original is not None else _first_line(error)
    if kind in _SCHEMA_MISSING or any(marker in text for marker in _SCHEMA_MISSING):
        return UPGRADE_HINT
    if error.connection_invalidated or kind == "OperationalError":
        return f"the database cannot be used ({text})"
    return f"the database refused the change ({kind}: {text})"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
