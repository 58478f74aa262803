"""pylti1p3's key/value launch store on the database (``lti_launch_storage``).

Every read and write is its own short transaction: a nonce or a state consumed by
one worker is gone for every other worker at once, and survives a restart.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from pylti1p3.session import SessionService
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from lti_tool.models.launch_storage import LaunchStorageEntry
from referentiel.orm import utcnow

DEFAULT_LIFETIME = 2 * 60 * 60  # seconds


class DatabaseLaunchDataStorage(LaunchDataStorage[Any]):
    """Keys are global (no per-browser session id): a launch must complete even when
    the browser keeps no cookie of ours. The state check binds the browser instead."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        super().__init__()
        self._sessions = sessions

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._sessions

    def get_session_cookie_name(self) -> None:
        return None

    def can_set_keys_expiration(self) -> bool:
        return True

    def get_value(self, key: str) -> Any:
        key = self._prepare_key(key)
        with self._sessions() as session:
            entry = session.get(LaunchStorageEntry, key)
            if entry is None or entry.expires_at <= utcnow():
                return None
            return entry.value

    def set_value(self, key: str, value: Any, exp: int | None = None) -> None:
        key = self._prepare_key(key)
        expires_at = utcnow() + timedelta(seconds=exp or DEFAULT_LIFETIME)
        with self._sessions.begin() as session:
            session.execute(delete(LaunchStorageEntry).where(LaunchStorageEntry.key == key))
            session.add(LaunchStorageEntry(key=key, value=value, expires_at=expires_at))

    def check_value(self, key: str) -> bool:
        return self.get_value(key) is not None

    def pop_value(self, key: str) -> Any:
        """Read and delete in one transaction: the value is given to one caller only."""
        key = self._prepare_key(key)
        with self._sessions.begin() as session:
            entry = session.scalar(
                select(LaunchStorageEntry).where(LaunchStorageEntry.key == key).with_for_update()
            )
            if entry is None:
                return None
            value, expired = entry.value, entry.expires_at <= utcnow()
            deleted = session.execute(
                delete(LaunchStorageEntry).where(LaunchStorageEntry.key == key)
            )
            if deleted.rowcount != 1 or expired:  # type: ignore[attr-defined]
                return None
            return value


def purge_expired(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        result = session.execute(
            delete(LaunchStorageEntry).where(LaunchStorageEntry.expires_at <= utcnow())
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


class ToolSessionService(SessionService):
    """pylti1p3's session service on the database store, with nonces used once.

    pylti1p3 only checks that a nonce was issued; here checking it consumes it
    (LTI 1.3 Core §5.1.3 step 9 / Security Framework §5.1.3: a nonce is used once).
    """

    data_storage: DatabaseLaunchDataStorage

    def __init__(self, storage: DatabaseLaunchDataStorage) -> None:
        # SessionService's constructor would bind a Flask-session store: not wanted.
        self.data_storage = storage

    def check_nonce(self, nonce: str) -> bool:
        return self.data_storage.pop_value(self._get_key("nonce", nonce)) is not None

    def pop_state_params(self, state: str) -> dict[str, Any] | None:
        value = self.data_storage.pop_value(self._get_key(state))
        return value if isinstance(value, dict) else None
