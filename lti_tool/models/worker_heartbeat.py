"""When each worker last showed it was alive: ``lti-tool status`` tells a stopped worker
from an idle one by this, not by work piling up."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from referentiel.orm import Base


class WorkerHeartbeat(Base):
    __tablename__ = "worker_heartbeat"

    name: Mapped[str] = mapped_column(String(255), primary_key=True)  # host:pid:thread
    mode: Mapped[str] = mapped_column(String(20))  # worker, worker --once, serve
    started_at: Mapped[datetime]
    seen_at: Mapped[datetime] = mapped_column(index=True)
