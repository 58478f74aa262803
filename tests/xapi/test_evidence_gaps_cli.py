"""``lti-tool evidence gaps``: why stored statements gave no evidence, and what changes it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session
from xapi_samples import MOODLE, OTHER_MOODLE, cmi5_passed, h5p_answered, moodle_quiz_completed

from lti_tool.cli import main
from lti_tool.models import Competency, LtiUser
from xapi.evidence import resolve_pending_for_user
from xapi.models import MappingRule, Statement

Store = Callable[..., Any]
QUIZ_12 = f"{MOODLE}/mod/quiz/view.php?id=12"
QUIZ_13 = f"{MOODLE}/mod/quiz/view.php?id=13"
H5P_5 = "https://h5p.example.org/wp-admin/admin-ajax.php?action=h5p_embed&id=5"
LAUNCHED = "http://adlnet.gov/expapi/verbs/launched"


def launched(user_id: str) -> dict[str, Any]:
    return {
        "actor": {"account": {"homePage": MOODLE, "name": user_id}},
        "verb": {"id": LAUNCHED, "display": {"en": "launched"}},
        "object": {"id": "https://content.example.org/cmi5/negociation/au-1"},
    }


@pytest.fixture
def a_class(
    session: Session,
    referentiel: dict[str, Competency],
    make_user: Callable[..., LtiUser],
    store: Store,
) -> None:
    """Learner 42 launched the tool; 77 never did; quiz 12 is mapped, quiz 13 not."""
    make_user("42", email="camille@example.org")
    session.add(
        MappingRule(
            activity_iri=QUIZ_12, is_prefix=False, competency_id=referentiel["bloc-2/C10"].id
        )
    )
    session.commit()
    store(
        moodle_quiz_completed("42", 12, raw=15),  # evidence
        cmi5_passed("42", "bloc-1/C1", scaled=0.9),  # evidence (tagged)
        moodle_quiz_completed("77", 12, raw=12),  # unknown learner
        moodle_quiz_completed("77", 12, raw=18, attempt=32),  # unknown learner
        moodle_quiz_completed("42", 13, raw=9),  # activity mapped to nothing
        launched("42"),  # no result
        launched("77"),  # no result (whoever the actor)
        {
            "actor": {"objectType": "Group", "member": [{"mbox": "mailto:camille@example.org"}]},
            "verb": {"id": "http://adlnet.gov/expapi/verbs/passed"},
            "object": {"id": QUIZ_12},
        },
    )
    # Learner 42's address, but sent with a credential of another platform.
    store(h5p_answered("camille@example.org", 5, raw=8, max_=10), platform_issuer=OTHER_MOODLE)


def gaps(runner: FlaskCliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(main, ["evidence", "gaps", "--format", "json", *args])
    assert result.exit_code == 0, result.output
    report: dict[str, Any] = json.loads(result.output)
    return report


def by_reason(report: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {
        group["reason"]: {s["subject"]: s["statements"] for s in group["subjects"]}
        for group in report["gaps"]
    }


def test_every_statement_without_evidence_is_explained_by_its_reason(
    runner: FlaskCliRunner, a_class: None
) -> None:
    report = gaps(runner)

    assert (report["stored"], report["with_evidence"], report["without_evidence"]) == (9, 2, 7)
    assert report["waiting"] == 0 and report["underived"] == 0
    reasons = by_reason(report)
    ((group_key, group_count),) = reasons.pop("actor-not-an-agent").items()
    assert group_key.startswith("group:") and group_count == 1
    assert reasons == {
        "no-result": {LAUNCHED: 2},
        "unknown-learner": {f"account:{MOODLE}|77": 2},
        "other-platform": {"mbox:mailto:camille@example.org": 1},
        "no-competency": {QUIZ_13: 1},
    }
    # Derivation's order, the same whatever the counts.
    assert [g["reason"] for g in report["gaps"]] == [
        "actor-not-an-agent",
        "no-result",
        "unknown-learner",
        "other-platform",
        "no-competency",
    ]


def test_the_text_says_what_to_do_for_each_reason(runner: FlaskCliRunner, a_class: None) -> None:
    result = runner.invoke(main, ["evidence", "gaps"])

    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        "9 statement(s) stored (voided and voiding ones left out): 2 gave evidence, "
        "0 wait for derivation, 7 gave none."
    )
    assert any(line.startswith("- 2 come from an actor no launch has made known") for line in lines)
    assert f"         2  account:{MOODLE}|77" in lines
    assert any("`lti-tool xapi map add --activity IRI --competency IRI`" in line for line in lines)
    assert f"         1  {QUIZ_13}" in lines


def test_doing_what_the_report_says_turns_the_gaps_into_evidence(
    runner: FlaskCliRunner, session: Session, a_class: None, make_user: Callable[..., LtiUser]
) -> None:
    mapped = runner.invoke(
        main,
        [
            "xapi",
            "map",
            "add",
            "--activity",
            QUIZ_13,
            "--competency",
            "http://tool.test/referentiels/diplovis-bgdc/bloc-2/C9",
        ],
    )
    assert mapped.exit_code == 0, mapped.output
    # Learner 77 launches: the launch records the user and derives what waited for them.
    resolve_pending_for_user(session, make_user("77").id)
    session.commit()

    report = gaps(runner)

    assert "no-competency" not in by_reason(report)
    assert "unknown-learner" not in by_reason(report)
    assert (report["with_evidence"], report["without_evidence"]) == (5, 4)
    assert report["underived"] == 0


def test_statements_a_repair_left_underived_are_counted_with_the_command_that_derives_them(
    runner: FlaskCliRunner, session: Session, a_class: None, referentiel: dict[str, Competency]
) -> None:
    # A rule written behind the tool's back: stored statements are not derived again.
    session.add(
        MappingRule(
            activity_iri=QUIZ_13, is_prefix=False, competency_id=referentiel["bloc-2/C9"].id
        )
    )
    session.commit()

    assert gaps(runner)["underived"] == 1
    text = runner.invoke(main, ["evidence", "gaps"]).output
    assert (
        "- 1 would give evidence now but were not derived again: run `lti-tool evidence rederive`."
        in text
    )

    assert runner.invoke(main, ["evidence", "rederive"]).exit_code == 0
    assert gaps(runner)["underived"] == 0


def test_queued_and_voided_statements_are_not_reported_as_gaps(
    runner: FlaskCliRunner,
    session: Session,
    a_class: None,
    store: Store,
    void: Callable[[str], None],
) -> None:
    void(session.scalar(select(Statement.id).where(Statement.object_id == QUIZ_13)))
    store(moodle_quiz_completed("42", 13, raw=3, attempt=40), derive=False)

    report = gaps(runner)

    # The voided statement and the voiding one are out; the new one waits.
    assert (report["stored"], report["waiting"], report["without_evidence"]) == (9, 1, 6)
    assert "no-competency" not in by_reason(report)


def test_top_lists_the_most_frequent_subjects_and_counts_the_rest(
    runner: FlaskCliRunner, referentiel: dict[str, Competency], store: Store
) -> None:
    store(*(moodle_quiz_completed(str(n), 12, raw=n) for n in (1, 2, 2, 3, 3, 3)))

    report = gaps(runner, "--top", "2")

    (group,) = report["gaps"]
    assert group["reason"] == "unknown-learner" and group["statements"] == 6
    assert group["subjects"] == [
        {"subject": f"account:{MOODLE}|3", "statements": 3},
        {"subject": f"account:{MOODLE}|2", "statements": 2},
    ]
    assert group["more_subjects"] == 1
    text = runner.invoke(main, ["evidence", "gaps", "--top", "2"]).output
    assert text.endswith("            and 1 more\n")


def test_an_empty_store_has_nothing_to_explain(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["evidence", "gaps"])

    assert result.exit_code == 0
    assert result.output == (
        "0 statement(s) stored (voided and voiding ones left out): 0 gave evidence, "
        "0 wait for derivation, 0 gave none.\n"
    )


def test_top_must_be_positive(runner: FlaskCliRunner) -> None:
    result = runner.invoke(main, ["evidence", "gaps", "--top", "0"])

    assert result.exit_code == 2
    assert "Invalid value for '--top'" in result.output


def test_a_platform_sees_only_its_own_statements(
    runner: FlaskCliRunner, a_class: None, store: Store
) -> None:
    store(moodle_quiz_completed("88", 12, raw=5, site=OTHER_MOODLE))

    ours = gaps(runner, "--platform", f"{MOODLE}/")
    theirs = gaps(runner, "--platform", OTHER_MOODLE)

    # The group's statement came through an unbound credential without an account:
    # it belongs to no platform.
    assert (ours["stored"], ours["with_evidence"], ours["without_evidence"]) == (7, 2, 5)
    assert set(by_reason(ours)) == {"no-result", "unknown-learner", "no-competency"}
    assert by_reason(ours)["unknown-learner"] == {f"account:{MOODLE}|77": 2}
    assert (theirs["stored"], theirs["without_evidence"]) == (2, 2)
    # Camille is a learner of the other Moodle: seen from this one, she is not known,
    # and nothing tells that her address is a learner's elsewhere.
    assert by_reason(theirs) == {
        "unknown-learner": {
            f"account:{OTHER_MOODLE}|88": 1,
            "mbox:mailto:camille@example.org": 1,
        },
    }
