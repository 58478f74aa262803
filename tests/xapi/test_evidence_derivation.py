"""Statements as Moodle, H5P and cmi5 send them end as evidence for the right
learner and competency; unknown learners, voiding and platform binding."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, select
from sqlalchemy.orm import Session
from xapi_samples import (
    MOODLE,
    OTHER_MOODLE,
    cmi5_passed,
    h5p_answered,
    moodle_quiz_completed,
    moodle_quiz_completed_older,
)

from lti_tool.models import Competency, LtiUser
from referentiel.audit import AuditEvent
from xapi.evidence import resolve_pending_for_user, resolve_pending_for_users
from xapi.exceptions import ForbiddenStatement
from xapi.models import Evidence, MappingRule
from xapi.signals import evidence_changed

Store = Callable[..., Any]


def evidence_of(session: Session) -> list[Evidence]:
    return list(session.scalars(select(Evidence).order_by(Evidence.id)))


@pytest.fixture
def changes() -> list[set[tuple[int, int]]]:
    """Every ``touched`` set sent on ``evidence_changed`` during the test."""
    seen: list[set[tuple[int, int]]] = []

    def receiver(_session: Session, *, touched: set[tuple[int, int]], **_: Any) -> None:
        seen.append(set(touched))

    evidence_changed.connect(receiver)
    yield seen
    evidence_changed.disconnect(receiver)


def map_activity(
    session: Session, activity: str, competency: Competency, prefix: bool = False
) -> None:
    session.add(MappingRule(activity_iri=activity, is_prefix=prefix, competency_id=competency.id))
    session.commit()


def test_moodle_quiz_completed_becomes_evidence_through_a_mapping_rule(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
    changes: list[set[tuple[int, int]]],
) -> None:
    learner = make_user("42")
    c10 = referentiel["bloc-2/C10"]
    map_activity(session, f"{MOODLE}/mod/quiz/view.php?id=12", c10)

    [row] = store(moodle_quiz_completed("42", 12, raw=15, max_=20))

    [evidence] = evidence_of(session)
    assert (evidence.learner_id, evidence.competency_id) == (learner.id, c10.id)
    assert evidence.statement_id == row.id
    assert evidence.verb_id == "http://adlnet.gov/expapi/verbs/completed"
    assert evidence.score_scaled == pytest.approx(0.75)
    assert evidence.success is True and evidence.completion is True
    assert evidence.source_activity == f"{MOODLE}/mod/quiz/view.php?id=12"
    assert evidence.occurred_at.isoformat() == "2026-11-20T08:15:00+00:00"
    assert changes == [{(learner.id, c10.id)}]
    # The achievement layer adds its own entries (achievement.changed...): look at evidence's.
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.kind.like("evidence.%")))
    assert event.kind == "evidence.added" and event.details["statement_id"] == row.id


def test_moodle_account_home_page_matches_the_issuer_with_or_without_trailing_slash(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42", issuer=f"{MOODLE}/")
    map_activity(session, f"{MOODLE}/mod/quiz/", referentiel["bloc-2/C9"], prefix=True)

    store(moodle_quiz_completed("42", 12, raw=10))

    assert [e.learner_id for e in evidence_of(session)] == [learner.id]


def test_a_statement_about_an_unmapped_activity_gives_no_evidence(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    make_user("42")
    map_activity(session, f"{MOODLE}/mod/quiz/view.php?id=12", referentiel["bloc-2/C10"])

    store(moodle_quiz_completed("42", 13, raw=10))

    assert evidence_of(session) == []


def test_older_moodle_shape_with_the_quiz_as_parent_matches_the_quiz_rule(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42")
    c10 = referentiel["bloc-2/C10"]
    map_activity(session, f"{MOODLE}/mod/quiz/view.php?id=12", c10)

    store(moodle_quiz_completed_older("42", 12, raw=15))

    [evidence] = evidence_of(session)
    assert (evidence.learner_id, evidence.competency_id) == (learner.id, c10.id)
    assert evidence.source_activity == f"{MOODLE}/mod/quiz/attempt.php?attempt=31&cmid=12"


def test_mapping_rules_ignore_the_course_moodle_puts_in_grouping(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    make_user("42")
    map_activity(session, f"{MOODLE}/course/view.php?id=7", referentiel["bloc-1/C1"])

    store(moodle_quiz_completed("42", 12, raw=10, course=7))

    assert evidence_of(session) == []


def test_h5p_with_mbox_resolves_by_email_case_insensitively_and_derives_the_scaled_score(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("77", email="Camille.Martin@Example.org")
    c2 = referentiel["bloc-1/C2"]
    map_activity(
        session, "https://h5p.example.org/wp-admin/admin-ajax.php?action=h5p_embed&id=5", c2
    )

    store(h5p_answered("camille.martin@example.org", 5, raw=3, max_=4, with_scaled=False))

    [evidence] = evidence_of(session)
    assert (evidence.learner_id, evidence.competency_id) == (learner.id, c2.id)
    assert evidence.score_scaled == pytest.approx(0.75)
    assert evidence.success is True


def test_cmi5_tagged_objective_in_parent_is_evidence_for_that_competency(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42")

    store(cmi5_passed("42", "bloc-2/C9", scaled=0.85))

    [evidence] = evidence_of(session)
    assert (evidence.learner_id, evidence.competency_id) == (
        learner.id,
        referentiel["bloc-2/C9"].id,
    )
    assert evidence.score_scaled == pytest.approx(0.85)
    assert evidence.success is True
    assert evidence.source_activity == "https://content.example.org/cmi5/negociation/au-1"


def test_cmi5_success_comes_from_the_mastery_score_when_the_result_omits_it(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    make_user("42")

    store(cmi5_passed("42", "bloc-2/C9", scaled=0.6, success=None, verb="completed"))

    [evidence] = evidence_of(session)
    assert evidence.success is False and evidence.completion is True


def test_a_tagged_iri_with_a_trailing_slash_still_names_the_competency(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    make_user("42")
    statement = cmi5_passed("42", "bloc-1/C1", scaled=0.9)
    statement["context"]["contextActivities"]["parent"][0]["id"] += "/"

    store(statement)

    assert [e.competency_id for e in evidence_of(session)] == [referentiel["bloc-1/C1"].id]


def test_a_statement_without_outcome_is_kept_but_gives_no_evidence(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    make_user("42")
    launched = cmi5_passed("42", "bloc-2/C9", scaled=0.0, verb="launched")
    del launched["result"]

    [row] = store(launched)

    assert evidence_of(session) == [] and session.get(type(row), row.id) is not None


def test_unknown_learner_becomes_evidence_when_first_resolved(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    c10 = referentiel["bloc-2/C10"]
    map_activity(session, f"{MOODLE}/mod/quiz/view.php?id=12", c10)
    store(moodle_quiz_completed("99", 12, raw=18), cmi5_passed("99", "bloc-1/C1", scaled=0.9))
    assert evidence_of(session) == []

    learner = make_user("99")
    touched = resolve_pending_for_user(session, learner.id)
    session.commit()

    assert touched == {(learner.id, c10.id), (learner.id, referentiel["bloc-1/C1"].id)}
    assert len(evidence_of(session)) == 2
    assert resolve_pending_for_user(session, learner.id) == set()  # idempotent


def test_mbox_sha1sum_resolves_once_the_learner_is_known(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    import hashlib

    c2 = referentiel["bloc-1/C2"]
    map_activity(session, "https://h5p.example.org/", c2, prefix=True)
    learner = make_user("77", email="camille@example.org")
    resolve_pending_for_user(session, learner.id)
    statement = h5p_answered("camille@example.org", 5, raw=4, max_=4)
    del statement["actor"]["mbox"]
    statement["actor"]["mbox_sha1sum"] = hashlib.sha1(
        b"mailto:camille@example.org", usedforsecurity=False
    ).hexdigest()

    store(statement)

    assert [(e.learner_id, e.competency_id) for e in evidence_of(session)] == [(learner.id, c2.id)]


def test_a_changed_email_withdraws_the_old_address_evidence(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    map_activity(session, "https://h5p.example.org/", referentiel["bloc-1/C2"], prefix=True)
    learner = make_user("77", email="old@example.org")
    store(h5p_answered("old@example.org", 5, raw=4, max_=4))
    assert len(evidence_of(session)) == 1

    learner.email = "new@example.org"
    session.flush()
    resolve_pending_for_user(session, learner.id)
    session.commit()

    assert evidence_of(session) == []


def test_voiding_a_statement_withdraws_its_evidence(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
    void: Callable[[str], None],
    changes: list[set[tuple[int, int]]],
) -> None:
    learner = make_user("42")
    c9 = referentiel["bloc-2/C9"]
    [row] = store(cmi5_passed("42", "bloc-2/C9", scaled=0.85))

    void(row.id)

    assert evidence_of(session) == []
    assert changes == [{(learner.id, c9.id)}, {(learner.id, c9.id)}]
    kinds = [
        e.kind
        for e in session.scalars(
            select(AuditEvent).where(AuditEvent.kind.like("evidence.%")).order_by(AuditEvent.id)
        )
    ]
    assert kinds == ["evidence.added", "evidence.withdrawn"]
    assert resolve_pending_for_user(session, learner.id) == set()  # voided stays out


def test_storing_the_same_statements_twice_keeps_one_evidence_each(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    from xapi.evidence import rederive
    from xapi.models import Statement

    make_user("42")
    [row] = store(cmi5_passed("42", "bloc-2/C9", scaled=0.85))

    assert rederive(session, [session.get(Statement, row.id)]).added == 0  # type: ignore[list-item]
    assert len(evidence_of(session)) == 1


def test_credential_bound_to_a_platform_gives_no_evidence_for_another_platforms_learner(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    ours = make_user("42", issuer=MOODLE)
    make_user("42", issuer=OTHER_MOODLE)

    with pytest.raises(ForbiddenStatement):
        store(cmi5_passed("42", "bloc-2/C9", scaled=0.9, site=OTHER_MOODLE), platform_issuer=MOODLE)
    session.rollback()
    assert evidence_of(session) == []

    store(cmi5_passed("42", "bloc-2/C9", scaled=0.9, site=MOODLE), platform_issuer=MOODLE)
    assert [e.learner_id for e in evidence_of(session)] == [ours.id]


def test_bound_credential_with_shared_email_credits_only_its_platforms_learner(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    ours = make_user("1", issuer=MOODLE, email="camille@example.org")
    make_user("2", issuer=OTHER_MOODLE, email="camille@example.org")
    map_activity(session, "https://h5p.example.org/", referentiel["bloc-1/C2"], prefix=True)

    store(h5p_answered("camille@example.org", 5, raw=4, max_=4), platform_issuer=f"{MOODLE}/")

    assert [e.learner_id for e in evidence_of(session)] == [ours.id]


def test_roster_of_learners_never_launched_resolves_in_one_call_and_then_costs_nothing(
    app: Flask,
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    store(cmi5_passed("7", "bloc-2/C9", scaled=0.9), cmi5_passed("8", "bloc-1/C1", scaled=0.8))
    users = [make_user("7"), make_user("8"), make_user("9")]

    touched = resolve_pending_for_users(session, [u.id for u in users])
    session.commit()

    assert touched == {
        (users[0].id, referentiel["bloc-2/C9"].id),
        (users[1].id, referentiel["bloc-1/C1"].id),
    }
    statements: list[str] = []
    engine = app.extensions["database"]["engine"]

    def count(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert resolve_pending_for_users(session, [u.id for u in users]) == set()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 2  # the users' identities and their recorded keys


def test_a_statement_whose_voiding_statement_came_first_gives_no_evidence(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
    void: Callable[[str], None],
) -> None:
    make_user("42")
    statement = cmi5_passed("42", "bloc-2/C9", scaled=0.85)
    statement["id"] = "5d1b2c3e-4f50-4a6b-8c7d-9e0f1a2b3c4d"

    void(statement["id"])  # the target is not stored yet: not a reason to refuse (Data §2.3.2)
    store(statement)

    assert evidence_of(session) == []
