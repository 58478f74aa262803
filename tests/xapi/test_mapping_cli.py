"""``lti-tool xapi map add|list|remove``: rules apply to stored statements and their
removal withdraws only the evidence nothing else gives."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from xapi_samples import (
    MOODLE,
    cmi5_passed,
    competency_iri,
    moodle_quiz_completed,
    moodle_quiz_completed_older,
)

from lti_tool.cli import main
from lti_tool.models import Competency, LtiUser
from referentiel.audit import AuditEvent
from xapi.models import Evidence, MappingRule

QUIZ = f"{MOODLE}/mod/quiz/view.php?id=12"
Store = Callable[..., Any]


def pairs(session: Session) -> set[tuple[int, int]]:
    session.expire_all()
    return set(session.execute(select(Evidence.learner_id, Evidence.competency_id)).tuples())


def test_map_add_applies_the_rule_to_statements_already_stored(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42")
    store(moodle_quiz_completed("42", 12, raw=16), moodle_quiz_completed("42", 13, raw=4))

    result = runner.invoke(
        main,
        [
            "xapi",
            "map",
            "add",
            "--activity",
            QUIZ,
            "--competency",
            competency_iri("bloc-2/C10"),
            "--competency",
            competency_iri("bloc-2/C9"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Mapped {QUIZ} to 2 competencies (rule ")
    assert result.output.endswith("2 evidence added from stored statements.\n")
    assert pairs(session) == {
        (learner.id, referentiel["bloc-2/C10"].id),
        (learner.id, referentiel["bloc-2/C9"].id),
    }
    listed = runner.invoke(main, ["xapi", "map", "list"]).output.splitlines()
    assert [line.split("\t")[1:] for line in listed] == [
        ["exact", QUIZ, competency_iri("bloc-2/C10")],
        ["exact", QUIZ, competency_iri("bloc-2/C9")],
    ]


def test_map_add_twice_keeps_one_rule(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
) -> None:
    args = ["xapi", "map", "add", "--activity", QUIZ, "--competency", competency_iri("bloc-2/C10")]
    first = runner.invoke(main, args)
    again = runner.invoke(main, args)

    assert first.exit_code == again.exit_code == 0
    assert (
        first.output.split("(rule ")[1].split(")")[0]
        == again.output.split("(rule ")[1].split(")")[0]
    )
    assert session.scalar(select(func.count()).select_from(MappingRule)) == 1


def test_map_add_refuses_an_unknown_competency_in_one_line_and_writes_nothing(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
) -> None:
    result = runner.invoke(
        main,
        [
            "xapi",
            "map",
            "add",
            "--activity",
            QUIZ,
            "--competency",
            competency_iri("bloc-2/C10"),
            "--competency",
            competency_iri("bloc-2/C99"),
        ],
    )

    assert result.exit_code == 1
    assert result.output == f"Error: no competency has the IRI {competency_iri('bloc-2/C99')}\n"
    assert session.scalar(select(func.count()).select_from(MappingRule)) == 0


def test_map_add_refuses_an_activity_that_is_not_an_iri(
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
) -> None:
    result = runner.invoke(
        main,
        [
            "xapi",
            "map",
            "add",
            "--activity",
            "quiz 12",
            "--competency",
            competency_iri("bloc-2/C10"),
        ],
    )

    assert result.exit_code == 1
    assert result.output == "Error: the activity id must be an absolute IRI, not 'quiz 12'\n"


def test_map_remove_withdraws_only_evidence_no_other_rule_or_tag_gives(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42")
    c10, c9 = referentiel["bloc-2/C10"].id, referentiel["bloc-2/C9"].id
    exact = MappingRule(activity_iri=QUIZ, is_prefix=False, competency_id=c10)
    prefix = MappingRule(activity_iri=f"{MOODLE}/mod/quiz/", is_prefix=True, competency_id=c10)
    cmi5_au = MappingRule(
        activity_iri="https://content.example.org/cmi5/", is_prefix=True, competency_id=c9
    )
    session.add_all([exact, prefix, cmi5_au])
    session.commit()
    store(moodle_quiz_completed("42", 12, raw=16), cmi5_passed("42", "bloc-2/C9", scaled=0.9))
    assert pairs(session) == {(learner.id, c10), (learner.id, c9)}

    removed_exact = runner.invoke(main, ["xapi", "map", "remove", str(exact.id)])
    removed_cmi5 = runner.invoke(main, ["xapi", "map", "remove", str(cmi5_au.id)])

    assert removed_exact.output.endswith(
        "0 evidence withdrawn.\n"
    )  # the prefix rule still gives it
    assert removed_cmi5.output.endswith("0 evidence withdrawn.\n")  # the statement tags C9
    assert pairs(session) == {(learner.id, c10), (learner.id, c9)}

    removed_prefix = runner.invoke(main, ["xapi", "map", "remove", str(prefix.id)])

    assert removed_prefix.exit_code == 0
    assert removed_prefix.output == (
        f"Removed rule {prefix.id} ({MOODLE}/mod/quiz/ -> {competency_iri('bloc-2/C10')}); "
        "1 evidence withdrawn.\n"
    )
    assert pairs(session) == {(learner.id, c9)}
    kinds = session.scalars(
        select(AuditEvent.kind)
        .where(AuditEvent.kind.not_in(("achievement.changed", "bloc.changed")))
        .order_by(AuditEvent.id)
    ).all()
    assert kinds.count("mapping.removed") == 3 and kinds[-1] == "evidence.withdrawn"


def test_map_remove_unknown_rule_is_one_error_line(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["xapi", "map", "remove", "999"])

    assert result.exit_code == 1
    assert result.output == "Error: no mapping rule has the id 999\n"


def test_map_add_with_a_prefix_backfills_statements_naming_the_quiz_as_parent(
    session: Session,
    runner: FlaskCliRunner,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    learner = make_user("42")
    store(
        moodle_quiz_completed_older("42", 12, raw=16), moodle_quiz_completed_older("42", 22, raw=9)
    )

    result = runner.invoke(
        main,
        [
            "xapi",
            "map",
            "add",
            "--prefix",
            "--activity",
            f"{MOODLE}/mod/quiz/view.php?id=1",
            "--competency",
            competency_iri("bloc-1/C2"),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output.endswith("1 evidence added from stored statements.\n")  # id=12, not 22
    assert pairs(session) == {(learner.id, referentiel["bloc-1/C2"].id)}


def test_map_add_refuses_a_retired_competency(
    session: Session, runner: FlaskCliRunner, referentiel: dict[str, Competency]
) -> None:
    referentiel["bloc-2/C10"].retired_at = datetime.now(UTC)
    session.commit()

    result = runner.invoke(
        main,
        ["xapi", "map", "add", "--activity", QUIZ, "--competency", competency_iri("bloc-2/C10")],
    )

    assert result.exit_code == 1
    assert result.output == (
        f"Error: the competency {competency_iri('bloc-2/C10')} is retired from its référentiel\n"
    )
