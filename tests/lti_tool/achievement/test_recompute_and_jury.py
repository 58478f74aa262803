"""Persistence: incremental recompute, rule versions, bloc/jury/override, certification."""

from __future__ import annotations

import pytest
from achievement_world import CONTEXT, ISSUER, World
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lti_tool.achievement import jury, recompute, rules
from lti_tool.achievement.exceptions import OverrideReasonMissing
from lti_tool.achievement.models import BlocState, CompetencyState, ScoreOutbox
from lti_tool.achievement.progress import class_progress
from referentiel.audit import AuditEvent
from referentiel.jury import Decision


def state(session: Session, world: World, sub: str, target: str) -> CompetencyState:
    bloc_key, code = target.split("/")
    return session.scalars(
        select(CompetencyState).where(
            CompetencyState.learner_id == world.learners[sub].id,
            CompetencyState.competency_id == world.competency(bloc_key, code).id,
        )
    ).one()


def bloc_state(session: Session, world: World, sub: str, bloc_key: str) -> str:
    return session.scalars(
        select(BlocState.state).where(
            BlocState.learner_id == world.learners[sub].id,
            BlocState.bloc_id == world.bloc(bloc_key).id,
        )
    ).one()


def audit_kinds(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.kind).order_by(AuditEvent.id)))


def sign(world: World, sub: str, bloc_key: str, juror: str, external: bool, **kw: object):  # type: ignore[no-untyped-def]
    return jury.sign_off(
        world.session,
        learner_id=world.learners[sub].id,
        bloc=world.bloc(bloc_key),
        juror_id=juror,
        juror_name=juror.title(),
        external=external,
        decision=kw.pop("decision", Decision.VALIDATED),
        recorded_by="trainer-1",
        **kw,  # type: ignore[arg-type]
    )


def test_evidence_recomputes_only_the_touched_pair_with_the_rule_version(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.add_learner("u2")
    world.evidence("u1", "bloc-1/C1", score=0.4)
    world.evidence("u2", "bloc-1/C2", score=0.9)
    assert session.scalar(select(func.count()).select_from(CompetencyState)) == 2
    first = state(session, world, "u1", "bloc-1/C1")
    assert (first.state, first.computed_state, first.rule_version) == ("en_cours", "en_cours", 0)
    assert first.evidence_count == 1 and first.score == 0.4
    assert first.explanation["counted"][0]["note"] == "score 0.40 < threshold 0.50"
    world.evidence("u1", "bloc-1/C1", score=0.8)
    assert state(session, world, "u1", "bloc-1/C1").state == "acquis"
    assert bloc_state(session, world, "u1", "bloc-1") == "en_cours"
    assert "achievement.changed" in audit_kinds(session)


def test_states_already_loaded_read_what_a_recomputation_wrote(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C1", score=0.4)
    loaded = state(session, world, "u1", "bloc-1/C1")
    loaded_bloc = session.scalars(
        select(BlocState).where(BlocState.learner_id == world.learners["u1"].id)
    ).one()
    assert (loaded.state, loaded_bloc.acquired) == ("en_cours", 0)
    world.evidence("u1", "bloc-1/C1", score=0.8)  # rows rewritten without these objects
    assert (loaded.state, loaded.evidence_count, loaded.score) == ("acquis", 2, 0.8)
    assert loaded_bloc.acquired == 1


def test_a_rule_change_is_a_new_audited_version_and_states_name_it(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C1", score=0.6)
    assert state(session, world, "u1", "bloc-1/C1").state == "acquis"
    version = rules.set_rules(
        session,
        world.framework,
        {"default": {"method": "highest", "mastery_threshold": 0.7}},
        actor="admin",
        reason="stricter threshold voted in council",
    )
    recompute.recompute_framework(session, world.framework.id, cause="rules", actor="admin")
    changed = state(session, world, "u1", "bloc-1/C1")
    assert (version.version, changed.rule_version, changed.state) == (1, 1, "en_cours")
    second = rules.set_rules(session, world.framework, {"default": {}}, actor="admin")
    assert second.version == 2
    events = session.scalars(select(AuditEvent).where(AuditEvent.kind == "rule.changed")).all()
    assert [e.details["version"] for e in events] == [1, 2]
    assert events[0].details["reason"] == "stricter threshold voted in council"


def test_bloc_is_ready_for_the_jury_only_when_all_competencies_are_acquis(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    codes = [c.code for c in world.bloc("bloc-3").competencies]
    for code in codes[:-1]:
        world.evidence("u1", f"bloc-3/{code}", score=0.9)
    assert bloc_state(session, world, "u1", "bloc-3") == "en_cours"
    world.evidence("u1", f"bloc-3/{codes[-1]}", score=0.9)
    assert bloc_state(session, world, "u1", "bloc-3") == "pret_pour_jury"


def test_jury_decides_the_bloc_only_with_two_jurors_one_external(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.acquire_bloc("u1", "bloc-3")
    first = sign(world, "u1", "bloc-3", "internal-1", False, comment="dossier solide")
    assert not first.check.decided
    second = sign(world, "u1", "bloc-3", "internal-2", False)
    assert second.check.problems == ("at least one juror must be external to the training centre",)
    assert bloc_state(session, world, "u1", "bloc-3") == "pret_pour_jury"
    third = sign(world, "u1", "bloc-3", "external-1", True, comment="conforme")
    assert third.check.decision is Decision.VALIDATED
    assert third.jury_decision.status == "decided"
    assert [s.juror_id for s in third.jury_decision.signoffs] == [
        "internal-1",
        "internal-2",
        "external-1",
    ]
    assert third.jury_decision.signoffs[0].comment == "dossier solide"
    assert bloc_state(session, world, "u1", "bloc-3") == "valide"
    kinds = audit_kinds(session)
    assert kinds.count("jury.signoff") == 3 and kinds.count("jury.decided") == 1


def test_a_jury_decision_overrides_the_computed_bloc_state(session: Session, world: World) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-2/C1", score=0.1)
    sign(world, "u1", "bloc-2", "int-1", False)
    sign(world, "u1", "bloc-2", "ext-1", True)
    assert bloc_state(session, world, "u1", "bloc-2") == "valide"
    world.acquire_bloc("u1", "bloc-4")
    sign(world, "u1", "bloc-4", "int-1", False, decision=Decision.NOT_VALIDATED)
    sign(world, "u1", "bloc-4", "ext-1", True, decision=Decision.NOT_VALIDATED)
    assert bloc_state(session, world, "u1", "bloc-4") == "non_valide"


def test_a_jury_decision_on_one_competency_stands_over_rules_and_overrides(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C1", score=0.9)
    jury.set_override(
        session,
        learner_id=world.learners["u1"].id,
        competency=world.competency("bloc-1", "C1"),
        state="acquis",
        reason="observed in the workplace",
        actor="trainer-1",
    )
    competency = world.competency("bloc-1", "C1")
    sign(world, "u1", "bloc-1", "int-1", False, decision="not_validated", competency=competency)
    sign(world, "u1", "bloc-1", "ext-1", True, decision="not_validated", competency=competency)
    row = state(session, world, "u1", "bloc-1/C1")
    assert (row.state, row.state_source, row.computed_state) == ("non_valide", "jury", "acquis")


def test_an_override_needs_a_reason_and_is_audited(session: Session, world: World) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C2", score=0.2)
    competency = world.competency("bloc-1", "C2")
    learner_id = world.learners["u1"].id
    for reason in ("", "   "):
        with pytest.raises(OverrideReasonMissing):
            jury.set_override(
                session,
                learner_id=learner_id,
                competency=competency,
                state="acquis",
                reason=reason,
                actor="trainer-1",
            )
    assert state(session, world, "u1", "bloc-1/C2").state == "en_cours"
    jury.set_override(
        session,
        learner_id=learner_id,
        competency=competency,
        state="acquis",
        reason="oral assessment on 3 March",
        actor="trainer-1",
    )
    row = state(session, world, "u1", "bloc-1/C2")
    assert (row.state, row.state_source, row.computed_state) == ("acquis", "override", "en_cours")
    jury.set_override(
        session,
        learner_id=learner_id,
        competency=competency,
        state=None,
        reason="oral assessment cancelled",
        actor="trainer-1",
    )
    assert state(session, world, "u1", "bloc-1/C2").state == "en_cours"
    events = session.scalars(
        select(AuditEvent).where(AuditEvent.kind.in_(["override.set", "override.lifted"]))
    ).all()
    assert [(e.kind, e.actor, e.details["reason"]) for e in events] == [
        ("override.set", "trainer-1", "oral assessment on 3 March"),
        ("override.lifted", "trainer-1", "oral assessment cancelled"),
    ]


def validate_bloc(world: World, sub: str, bloc_key: str) -> None:
    sign(world, sub, bloc_key, "int-1", False)
    sign(world, sub, bloc_key, "ext-1", True)


def test_certification_needs_every_mandatory_bloc_and_the_learners_track(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    for n in range(1, 7):
        validate_bloc(world, "u1", f"bloc-{n}")
    progress = class_progress(session, ISSUER, CONTEXT)
    cert = progress.certification(world.learners["u1"].id, world.framework)
    assert cert.standing == "en_cours" and cert.missing == ("bloc-7",)
    jury.choose_track(
        session, learner_id=world.learners["u1"].id, bloc=world.bloc("bloc-7b"), actor="trainer-1"
    )
    validate_bloc(world, "u1", "bloc-7a")  # not the learner's track
    progress = class_progress(session, ISSUER, CONTEXT)
    cert = progress.certification(world.learners["u1"].id, world.framework)
    assert cert.tracks == {"bloc-7": "bloc-7b"} and cert.missing == ("bloc-7b",)
    validate_bloc(world, "u1", "bloc-7b")
    progress = class_progress(session, ISSUER, CONTEXT)
    assert progress.certification(world.learners["u1"].id, world.framework).standing == "certifie"


def test_track_is_inferred_from_the_evidence_when_not_recorded(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.evidence("u1", "bloc-7a/C1", score=0.9)
    world.evidence("u1", "bloc-7a/C2", score=0.9)
    world.evidence("u1", "bloc-7b/C1", score=0.9)
    progress = class_progress(session, ISSUER, CONTEXT)
    assert progress.certification(world.learners["u1"].id, world.framework).tracks == {
        "bloc-7": "bloc-7a"
    }


def test_score_change_is_queued_in_the_same_transaction_as_its_cause(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.add_link("bloc-1", "bloc-1")
    session.commit()
    world.evidence("u1", "bloc-1/C1", score=0.9)
    assert session.scalar(select(func.count()).select_from(ScoreOutbox)) == 1
    session.rollback()  # the evidence never happened: neither did its score
    assert session.scalar(select(func.count()).select_from(ScoreOutbox)) == 0


def test_score_is_the_share_acquired_with_a_comment_and_only_queued_on_change(
    session: Session, world: World
) -> None:
    world.add_learner("u1")
    world.add_link("bloc-3", "bloc-3")
    world.evidence("u1", "bloc-3/C1", score=0.9)
    world.evidence("u1", "bloc-3/C2", score=0.3)  # en cours: the gradebook says the same
    world.evidence("u1", "bloc-3/C2", score=0.8)
    rows = session.scalars(select(ScoreOutbox).order_by(ScoreOutbox.id)).all()
    assert len(rows) == 2
    total = len(world.bloc("bloc-3").competencies)
    assert rows[0].share == pytest.approx(1 / total)
    assert rows[0].comment == f"1/{total} compétences acquises ou validées. Bloc 3 : 1/{total} (C1)"
    assert (rows[0].activity_progress, rows[0].grading_progress) == ("InProgress", "FullyGraded")
    assert rows[1].score_timestamp > rows[0].score_timestamp
    assert rows[1].comment.endswith(f"Bloc 3 : 2/{total} (C1, C2)")
    world.acquire_bloc("u1", "bloc-3")
    validate_bloc(world, "u1", "bloc-3")
    last = session.scalars(select(ScoreOutbox).order_by(ScoreOutbox.id.desc())).first()
    assert last is not None and last.share == 1.0 and last.activity_progress == "Completed"
    assert "validé par le jury le" in last.comment


def test_class_progress_runs_the_same_queries_for_3_or_30_learners(
    session: Session, world: World
) -> None:
    from sqlalchemy import event

    def count_queries(n: int) -> int:
        for i in range(n):
            sub = f"q{n}-{i}"
            world.add_learner(sub)
            world.evidence(sub, "bloc-1/C1", score=0.9)
        session.commit()
        session.expunge_all()
        statements: list[str] = []
        engine = session.get_bind()
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            progress = class_progress(session, ISSUER, CONTEXT)
            rows = list(progress.rows("http://tool.test"))
            for learner in progress.learners:
                for framework in progress.frameworks:
                    progress.certification(learner.id, framework)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert rows
        return len(statements)

    assert count_queries(3) == count_queries(30)


def test_withdrawn_evidence_recomputes_the_pair(session: Session, world: World) -> None:
    world.add_learner("u1")
    evidence = world.evidence("u1", "bloc-1/C1", score=0.9)
    assert state(session, world, "u1", "bloc-1/C1").state == "acquis"
    pair = (evidence.learner_id, evidence.competency_id)
    session.delete(evidence)  # as voiding the statement does
    session.flush()
    from xapi.signals import evidence_changed

    evidence_changed.send(session, touched={pair})
    row = state(session, world, "u1", "bloc-1/C1")
    assert (row.state, row.evidence_count, row.last_evidence_at) == ("non_acquis", 0, None)


def test_states_are_recomputed_when_evidence_leaves_the_validity_period(
    session: Session, world: World
) -> None:
    from datetime import timedelta

    from achievement_world import T0

    rules.set_rules(session, world.framework, {"default": {"validity_days": 30}}, actor="admin")
    world.add_learner("u1")
    world.evidence("u1", "bloc-1/C1", score=0.9, at=T0)
    recompute.recompute_pairs(
        session,
        {(world.learners["u1"].id, world.competency("bloc-1", "C1").id)},
        cause="test",
        as_of=T0 + timedelta(days=1),
    )
    row = state(session, world, "u1", "bloc-1/C1")
    assert row.state == "acquis" and row.expires_at == T0 + timedelta(days=30)
    assert recompute.recompute_expired(session, now=T0 + timedelta(days=29)) == 0
    assert recompute.recompute_expired(session, now=T0 + timedelta(days=31)) == 1
    assert state(session, world, "u1", "bloc-1/C1").state == "non_acquis"
