"""Persistent référentiel: a framework, its blocs, activities, competencies and criteria.

Rows are keyed by the référentiel's own codes (framework key, bloc key, competency
code) so that loading a revised version updates them in place: evidence, rules and
jury decisions tied to an unchanged competency keep pointing at the same row. A
competency that a revision drops is retired, never deleted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referentiel.orm import Base, utcnow


class Framework(Base):
    __tablename__ = "framework"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100), unique=True)
    version: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(Text)
    abbreviation: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str] = mapped_column(String(10), default="fr")
    description: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    jury: Mapped[str] = mapped_column(Text, default="")
    rncp_code: Mapped[str | None] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64), default="")
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    blocs: Mapped[list[Bloc]] = relationship(
        back_populates="framework", order_by="Bloc.position", cascade="all, delete-orphan"
    )

    @property
    def iri_path(self) -> str:
        return f"/referentiels/{self.key}"


class Bloc(Base):
    __tablename__ = "bloc"
    __table_args__ = (UniqueConstraint("framework_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    framework_id: Mapped[int] = mapped_column(ForeignKey("framework.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(50))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    optional: Mapped[bool] = mapped_column(default=False)
    option_group: Mapped[str | None] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(default=0)
    modalities: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # The source's competency list as printed (RNCP LISTE_COMPETENCES), kept beside the split.
    competency_list_raw: Mapped[str] = mapped_column(Text, default="", server_default="")
    retired_at: Mapped[datetime | None]

    framework: Mapped[Framework] = relationship(back_populates="blocs")
    activities: Mapped[list[Activity]] = relationship(
        back_populates="bloc", order_by="Activity.position", cascade="all, delete-orphan"
    )
    competencies: Mapped[list[Competency]] = relationship(
        back_populates="bloc", order_by="Competency.position", cascade="all, delete-orphan"
    )
    criteria: Mapped[list[Criterion]] = relationship(
        back_populates="bloc", order_by="Criterion.position", cascade="all, delete-orphan"
    )

    @property
    def iri_path(self) -> str:
        return f"/referentiels/{self.framework.key}/{self.key}"


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (UniqueConstraint("bloc_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(20))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None]

    bloc: Mapped[Bloc] = relationship(back_populates="activities")


class Competency(Base):
    __tablename__ = "competency"
    __table_args__ = (UniqueConstraint("bloc_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))
    code: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None]

    bloc: Mapped[Bloc] = relationship(back_populates="competencies")
    activity: Mapped[Activity | None] = relationship()

    @property
    def iri_path(self) -> str:
        return f"{self.bloc.iri_path}/{self.code}"


class Criterion(Base):
    __tablename__ = "criterion"
    __table_args__ = (UniqueConstraint("bloc_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bloc_id: Mapped[int] = mapped_column(ForeignKey("bloc.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    competency_codes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    position: Mapped[int] = mapped_column(default=0)
    retired_at: Mapped[datetime | None]

    bloc: Mapped[Bloc] = relationship(back_populates="criteria")
