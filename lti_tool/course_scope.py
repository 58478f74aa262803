"""What a launch may see: its course, its référentiel, its learners. Nothing else.

Pages never trust an id from the URL by itself: a learner id, for instance, is only
accepted when that user is a learner of the launch's own course on the launch's own
platform (same issuer, same context). Anything else is "not found", so that probing
ids tells nothing about other courses.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from lti_tool.access import LaunchContext
from lti_tool.exceptions import NotFound
from lti_tool.models import CourseContext, LtiUser, Membership, ResourceLink
from referentiel.models import Bloc, Competency, Framework

DEFAULT_FRAMEWORK_KEY = "diplovis-bgdc"


class NoCourse(NotFound):
    """The launch came from outside a course."""


@dataclass(frozen=True)
class Placement:
    """What the resource link placed: a framework, and maybe only one of its blocs."""

    framework: Framework
    blocs: list[Bloc]  # the blocs shown, in order, with their competencies loaded

    @property
    def competencies(self) -> list[Competency]:
        return [c for bloc in self.blocs for c in bloc.competencies if c.retired_at is None]


def course_of(session: Session, launch: LaunchContext) -> CourseContext:
    if launch.context_id is None:
        raise NoCourse(gettext("This page needs a course: open the tool from a course."))
    course = session.get(CourseContext, launch.context_id)
    if course is None or course.issuer != launch.issuer:
        raise NoCourse(
            gettext("This course is not known to the tool: open the tool again from it.")
        )
    return course


def course_named(session: Session, issuer: str, context_id: str) -> CourseContext:
    """The course a platform calls ``context_id`` (the CLI's way in, where no launch is)."""
    course = session.scalar(
        select(CourseContext).where(
            CourseContext.issuer == issuer, CourseContext.context_id == context_id
        )
    )
    if course is None:
        raise NotFound(f"no course {context_id!r} known for platform {issuer!r}")
    return course


def placement_of(session: Session, launch: LaunchContext) -> Placement:
    """The référentiel (or bloc) the launch's resource link placed; the built-in one else."""
    framework_key, bloc_key = DEFAULT_FRAMEWORK_KEY, None
    if launch.resource_link_id is not None:
        link = session.get(ResourceLink, launch.resource_link_id)
        if link is not None and link.context_id == launch.context_id:
            framework_key, bloc_key = link.framework_key, link.bloc_key
    return placement_for(session, framework_key, bloc_key)


def placement_for(
    session: Session, framework_key: str = DEFAULT_FRAMEWORK_KEY, bloc_key: str | None = None
) -> Placement:
    """That référentiel (or one of its blocs); the first one loaded when it is not."""
    framework = session.scalars(
        select(Framework)
        .where(Framework.key == framework_key)
        .options(selectinload(Framework.blocs).selectinload(Bloc.competencies))
    ).first()
    if framework is None:
        framework = session.scalars(
            select(Framework)
            .order_by(Framework.id)
            .options(selectinload(Framework.blocs).selectinload(Bloc.competencies))
        ).first()
    if framework is None:
        raise NotFound(gettext("No référentiel is loaded yet: ask the administrator to load one."))
    blocs = [
        b
        for b in framework.blocs
        if b.retired_at is None and (bloc_key is None or b.key == bloc_key)
    ]
    return Placement(framework=framework, blocs=blocs)


def learner_in_course(session: Session, launch: LaunchContext, learner_id: int) -> LtiUser:
    """The learner ``learner_id`` if, and only if, they belong to the launch's course."""
    course = course_of(session, launch)
    user = session.scalars(
        select(LtiUser)
        .join(Membership, Membership.user_id == LtiUser.id)
        .where(
            LtiUser.id == learner_id,
            LtiUser.issuer == course.issuer,
            Membership.context_id == course.id,
            Membership.is_learner.is_(True),
        )
    ).first()
    if user is None:
        raise NotFound(gettext("No such learner in this course."))
    return user


def actor_of(session: Session, launch: LaunchContext) -> str:
    """How the audit trail names the person behind a launch: name and platform identity."""
    user = session.get(LtiUser, launch.user_id)
    if user is None:
        return f"lti:{launch.issuer}|?"
    return f"{user.display_name} <{user.issuer}|{user.sub}>"
