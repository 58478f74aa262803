"""Loading a référentiel: idempotent, revisions update in place, bad input changes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from referentiel.audit import AuditEvent
from referentiel.data_file import parse_data, parse_text
from referentiel.document import FrameworkDocument
from referentiel.exceptions import InvalidReferentiel
from referentiel.loading import load_document
from referentiel.models import Activity, Bloc, Competency, Criterion, Framework


def table_counts(session: Session) -> dict[str, int]:
    return {
        model.__tablename__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Framework, Bloc, Activity, Competency, Criterion, AuditEvent)
    }


def competency(session: Session, bloc_key: str, code: str) -> Competency:
    return session.scalars(
        select(Competency)
        .join(Competency.bloc)
        .where(Bloc.key == bloc_key, Competency.code == code)
    ).one()


def test_first_load_creates_every_row(session: Session, diplovis: FrameworkDocument) -> None:
    result = load_document(session, diplovis)
    session.commit()
    assert result.status == "created"
    assert result.summary() == (
        "diplovis-bgdc 1.0.0: 8 blocs, 29 activities, 105 competencies, 86 criteria (created)"
    )
    assert table_counts(session) == {
        "framework": 1,
        "bloc": 8,
        "activity": 29,
        "competency": 105,
        "criterion": 86,
        "audit_event": 1,
    }
    c10 = competency(session, "bloc-1", "C10")
    assert c10.activity is not None and c10.activity.key == "A3"
    assert c10.text.startswith("Assurer le service après-vente")


def test_loading_twice_changes_nothing(session: Session, diplovis: FrameworkDocument) -> None:
    load_document(session, diplovis)
    session.commit()
    before = table_counts(session)
    ids = sorted(session.scalars(select(Competency.id)))
    result = load_document(session, diplovis)
    session.commit()
    assert result.status == "unchanged" and not result.changes
    assert table_counts(session) == before  # no second audit event either
    assert sorted(session.scalars(select(Competency.id))) == ids


def test_revision_updates_texts_in_place_and_retires_what_it_drops(
    session: Session, diplovis: FrameworkDocument, diplovis_data: dict[str, Any]
) -> None:
    load_document(session, diplovis)
    session.commit()
    kept_id = competency(session, "bloc-1", "C1").id
    dropped_id = competency(session, "bloc-1", "C15").id
    bloc_7b_id = session.scalars(select(Bloc.id).where(Bloc.key == "bloc-7b")).one()

    diplovis_data["version"] = "1.1.0"
    bloc_1 = diplovis_data["blocs"][0]
    bloc_1["competencies"][0]["text"] = "Prendre en charge un client (texte révisé)"
    bloc_1["competencies"].pop()  # C15
    bloc_1["competencies"].append({"code": "C16", "activity": "A4", "text": "Nouvelle"})
    diplovis_data["blocs"].pop()  # bloc-7b
    result = load_document(session, parse_data(diplovis_data, source="revision.json"))
    session.commit()

    assert result.status == "updated"
    assert result.changes["texts"] == 1
    assert result.changes["competencies added"] == 1
    # C15 of bloc 1, then bloc 7b with its 14 competencies.
    assert result.changes["competencies retired"] == 15
    assert result.changes["blocs retired"] == 1
    revised = competency(session, "bloc-1", "C1")
    assert revised.id == kept_id and revised.text == "Prendre en charge un client (texte révisé)"
    retired = session.get(Competency, dropped_id)
    assert retired is not None and retired.retired_at is not None
    bloc_7b = session.get(Bloc, bloc_7b_id)
    assert bloc_7b is not None and bloc_7b.retired_at is not None
    assert session.scalar(select(func.count()).select_from(Competency)) == 106
    framework = session.scalars(select(Framework)).one()
    assert framework.version == "1.1.0"
    events = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [e.kind for e in events] == ["referentiel.loaded", "referentiel.changed"]
    assert events[1].details["changes"]["competencies retired"] == 15


def test_a_later_version_restores_what_was_retired(
    session: Session, diplovis: FrameworkDocument, diplovis_data: dict[str, Any]
) -> None:
    load_document(session, diplovis)
    dropped_id = competency(session, "bloc-1", "C15").id
    diplovis_data["blocs"][0]["competencies"].pop()
    load_document(session, parse_data(diplovis_data, source="revision.json"))
    result = load_document(session, diplovis)
    session.commit()
    assert result.changes["competencies restored"] == 1
    restored = competency(session, "bloc-1", "C15")
    assert restored.id == dropped_id and restored.retired_at is None


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["blocs"][2]["competencies"][1].update(text=""),
            "$.blocs[2].competencies[1].text",
        ),
        (lambda d: d["blocs"][0].pop("title"), "$.blocs[0]: 'title' is a required property"),
        (lambda d: d.update(id="DIPLOVIS BGDC"), "$.id: 'DIPLOVIS BGDC' does not match"),
        (
            lambda d: d["blocs"][1]["competencies"][3].update(code="C1"),
            "$.blocs[1].competencies[3].code: competency code 'C1' is used twice",
        ),
        (
            lambda d: d["blocs"][0]["competencies"][0].update(activity="A9"),
            "$.blocs[0].competencies[0].activity: activity 'A9' is not an activity",
        ),
        (
            lambda d: d["blocs"][7].update(key="bloc-7a"),
            "$.blocs[7].key: bloc key 'bloc-7a' is used twice",
        ),
        (
            lambda d: d["blocs"][0].update(number=10**30),
            "$.blocs[0].number: 1000000000000000000000000000000 is greater than the maximum of 999",
        ),
        (
            lambda d: d["blocs"][0]["activities"][0].update(number=1000),
            "$.blocs[0].activities[0].number: 1000 is greater than the maximum of 999",
        ),
        (lambda d: d.update(id="test-c\n"), "$.id: 'test-c\\n' does not match"),
        (lambda d: d["blocs"][0].update(key="bloc-1\n"), "$.blocs[0].key: 'bloc-1\\n' does not"),
        (
            lambda d: d["blocs"][0]["competencies"][0].update(code="C1\n"),
            "$.blocs[0].competencies[0].code: 'C1\\n' does not match",
        ),
        (lambda d: d.update(rncp_code="RNCP1\n"), "$.rncp_code: 'RNCP1\\n' does not match"),
        (lambda d: d.update(language="fr\n"), "$.language: 'fr\\n' does not match"),
        (
            lambda d: d.update(language="fr-abcdefgh-ijklmnop"),
            "$.language: 'fr-abcdefgh-ijklmnop' is too long",
        ),
        (
            lambda d: d.update(title="\ud800"),
            "$.title: contains an unpaired surrogate (U+D800), which cannot be stored",
        ),
        (
            lambda d: d["blocs"][2]["competencies"][1].update(text="Agir\x00"),
            "$.blocs[2].competencies[1].text: contains a NUL character (U+0000)",
        ),
        (lambda d: d.update({"\x00": 1}), "$: a key contains a NUL character"),
    ],
)
def test_a_bad_file_gets_one_error_naming_the_json_path(
    diplovis_data: dict[str, Any], mutate: Any, message: str
) -> None:
    mutate(diplovis_data)
    with pytest.raises(InvalidReferentiel) as error:
        parse_data(diplovis_data, source="bad.json")
    assert str(error.value).startswith("bad.json: ")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[" * 100_000 + "]" * 100_000, "deep.json: JSON nested too deeply to be a référentiel"),
        ('{"id": ' + "9" * 5000 + "}", "deep.json: a number in the JSON is too long to read"),
    ],
)
def test_json_too_deep_or_too_long_to_read_is_one_error(text: str, message: str) -> None:
    with pytest.raises(InvalidReferentiel) as error:
        parse_text(text, source="deep.json")
    assert str(error.value) == message


def test_data_too_deep_for_the_schema_messages_is_one_error(diplovis_data: dict[str, Any]) -> None:
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    diplovis_data["title"] = deep
    with pytest.raises(InvalidReferentiel, match=r"^deep.json: \$: nested too deeply"):
        parse_data(diplovis_data, source="deep.json")
