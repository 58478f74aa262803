"""Short-lived OIDC and launch data kept in the database, shared by every worker.

pylti1p3 keeps state parameters, nonces and validated launches in a key/value
store; in process memory they would be lost between gunicorn workers and at a
restart, so they live here with an expiry.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from referentiel.orm import Base


class LaunchStorageEntry(Base):
    __tablename__ = "lti_launch_storage"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    expires_at: Mapped[datetime] = mapped_column(index=True)
