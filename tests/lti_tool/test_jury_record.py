"""The jury's record (procès-verbal) a trainer downloads for the certifier: every
deliberation of the course's learners with its jurors, in CSV and XLSX, and nothing of
another course."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from openpyxl import load_workbook
from sqlalchemy import event, update

from lti_tool.achievement import jury
from lti_tool.achievement.models import JuryDecision, JurySignoff
from lti_tool.cli import main
from lti_tool.database import db
from lti_tool.models import CourseContext, LtiUser
from referentiel.models import Bloc, Competency
from tests.lti_tool.pages_world import World, add_learner, launch_for, token_for

JUNE = datetime(2026, 6, 30, 14, tzinfo=UTC)
# Sign-offs: (juror, external, decision, comment)
INES_YES = ("Inès Interne", False, "validated", "")
ERIC_YES = ("Éric Externe", True, "validated", "")


def sign(
    app: Flask,
    learner: LtiUser,
    bloc_key: str,
    *jurors: tuple[str, bool, str, str],
    competency: str | None = None,
) -> None:
    """Sign-offs ``(name, external, decision, comment)`` on ``learner``'s bloc (or on one
    of its competencies, by code)."""
    with app.app_context():
        bloc = db.session.query(Bloc).filter_by(key=bloc_key).one()
        one = next(c for c in bloc.competencies if c.code == competency) if competency else None
        for name, external, decision, comment in jurors:
            jury.sign_off(
                db.session,
                learner_id=learner.id,
                bloc=bloc,
                juror_id=name.lower(),
                juror_name=name,
                external=external,
                decision=decision,
                comment=comment,
                signed_at=JUNE,
                competency=one,
                recorded_by="test",
            )
        db.session.commit()


def download(app: Flask, client: FlaskClient, world: World, path: str, **params: str):  # type: ignore[no-untyped-def]
    launch = launch_for(world.tom, world.course_a, world.link_a, "instructor")
    return client.get(path, query_string={"lt": token_for(app, launch), **params})


def csv_rows(answer) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert answer.data.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig")), delimiter=";"))


def test_every_deliberation_of_the_course_with_its_jurors_and_none_of_another(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign(app, world.alice, "bloc-1", INES_YES, (*ERIC_YES[:3], "Très bon dossier"))
    sign(app, world.bob, "bloc-2", ("Inès Interne", False, "not_validated", "À revoir"))
    sign(app, world.zoe, "bloc-1", ("Secret Juror", True, "validated", "course B"))

    rows = csv_rows(download(app, client, world, "/trainer/jury.csv", sep="semicolon"))

    header, *body = rows
    assert header == [
        "Apprenant", "Courriel", "Bloc", "Intitulé du bloc", "Compétence", "Décision",
        "Décidé le",
        "Juré 1", "Juré 1 extérieur", "Décision du juré 1", "Juré 1 a signé le",
        "Commentaire du juré 1",
        "Juré 2", "Juré 2 extérieur", "Décision du juré 2", "Juré 2 a signé le",
        "Commentaire du juré 2",
    ]  # fmt: skip
    alice, bob = body
    titles = {bloc.key: bloc.title for bloc in world.framework.blocs}
    assert alice[:7] == [
        "Alice Martin", world.alice.email or "", "Bloc 1", titles["bloc-1"], "",
        "Validé par le jury", "2026-06-30",  # the day the second juror signed
    ]  # fmt: skip
    assert alice[7:] == [
        "Inès Interne", "non", "validé", "2026-06-30", "",
        "Éric Externe", "oui", "validé", "2026-06-30", "Très bon dossier",
    ]  # fmt: skip
    assert bob[:7] == [
        "Bob Durand", world.bob.email or "", "Bloc 2", titles["bloc-2"], "",
        "en cours de délibération", "",
    ]  # fmt: skip
    assert bob[7:] == ["Inès Interne", "non", "non validé", "2026-06-30", "À revoir"] + [""] * 5
    assert "Secret Juror" not in str(rows) and "course B" not in str(rows)


def test_a_third_signoff_gets_its_own_columns(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign(app, world.alice, "bloc-1", INES_YES, ("Paul Interne", False, "validated", ""), ERIC_YES)

    header, alice = csv_rows(download(app, client, world, "/trainer/jury.csv", sep="semicolon"))

    assert header[-5:] == [
        "Juré 3", "Juré 3 extérieur", "Décision du juré 3", "Juré 3 a signé le",
        "Commentaire du juré 3",
    ]  # fmt: skip
    assert [alice[7], alice[12], alice[17]] == ["Inès Interne", "Paul Interne", "Éric Externe"]
    assert alice[5] == "Validé par le jury"


def test_a_deliberation_on_one_competency_names_it_even_once_retired(
    app: Flask, client: FlaskClient, world: World
) -> None:
    code = world.competencies[1].code
    sign(
        app,
        world.alice,
        "bloc-1",
        ("Inès Interne", False, "not_validated", ""),
        ("Éric Externe", True, "not_validated", ""),
        competency=code,
    )
    with app.app_context():  # a revision of the référentiel drops it
        db.session.execute(
            update(Competency)
            .where(Competency.id == world.competencies[1].id)
            .values(retired_at=JUNE)
        )
        db.session.commit()

    _header, alice = csv_rows(download(app, client, world, "/trainer/jury.csv", sep="semicolon"))

    assert alice[2:7] == ["Bloc 1", alice[3], code, "Non validé par le jury", "2026-06-30"]


def test_a_jurors_comment_never_becomes_a_formula(
    app: Flask, client: FlaskClient, world: World
) -> None:
    sign(app, world.alice, "bloc-1", ("Inès Interne", False, "validated", '=HYPERLINK("x")'))

    _header, alice = csv_rows(download(app, client, world, "/trainer/jury.csv", sep="semicolon"))
    assert alice[11] == '\'=HYPERLINK("x")'

    answer = download(app, client, world, "/trainer/jury.xlsx")
    assert answer.status_code == 200
    assert 'filename="jury-record.xlsx"' in answer.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(answer.data)).active
    assert sheet is not None and sheet.title == "Jury"
    cells = list(sheet.iter_rows(min_row=2))
    assert cells[0][11].value == '=HYPERLINK("x")' and cells[0][11].data_type == "s"
    assert [c.value for c in cells[0][:2]] == ["Alice Martin", world.alice.email or ""]


def test_the_dashboard_links_the_record_and_with_no_deliberation_it_is_a_header_alone(
    app: Flask, client: FlaskClient, world: World
) -> None:
    page = download(app, client, world, "/trainer/").get_data(as_text=True)
    assert "Pour le certificateur, chaque délibération avec ses jurés :" in page
    assert all(f'href="/trainer/jury.{kind}?' in page for kind in ("csv", "xlsx"))

    answer = download(app, client, world, "/trainer/jury.csv")
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig"))))
    assert len(rows) == 1 and rows[0][0] == "Apprenant"


def test_learners_cannot_download_the_record(app: Flask, client: FlaskClient, world: World) -> None:
    launch = launch_for(world.alice, world.course_a, world.link_a, "learner")
    for path in ("/trainer/jury.csv", "/trainer/jury.xlsx"):
        answer = client.get(path, query_string={"lt": token_for(app, launch)})
        assert answer.status_code == 403


def test_the_record_reads_as_many_rows_in_as_many_queries_for_any_class(
    app: Flask, client: FlaskClient, world: World
) -> None:
    """Two deliberations of two sign-offs for each of 270 more learners (540 in all):
    as many SQL queries as for the world's two learners."""

    def queries() -> int:
        seen: list[str] = []
        engine = app.extensions["database"]["engine"]
        listener = lambda *_args: seen.append("")  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert download(app, client, world, "/trainer/jury.csv").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    sign(app, world.alice, "bloc-1", INES_YES, ERIC_YES)
    few = queries()
    with app.app_context():
        course = db.session.get(CourseContext, world.course_a.id)
        assert course is not None
        for n in range(270):
            learner = add_learner(db.session, course, f"x{n}", f"Extra {n:03d}")
            for bloc in world.framework.blocs:
                decision = JuryDecision(learner_id=learner.id, bloc_id=bloc.id)
                db.session.add(decision)
                db.session.flush()
                db.session.add_all(
                    JurySignoff(
                        jury_decision_id=decision.id,
                        juror_id=name,
                        juror_name=name,
                        external=external,
                        decision="validated",
                        signed_at=JUNE,
                    )
                    for name, external, _decision, _comment in (INES_YES, ERIC_YES)
                )
        db.session.commit()

    assert queries() == few
    rows = csv_rows(download(app, client, world, "/trainer/jury.csv", sep="semicolon"))
    assert len(rows) == 1 + 1 + 270 * len(world.framework.blocs)
    assert all(row[7] == "Inès Interne" and row[12] == "Éric Externe" for row in rows[1:])


def test_the_cli_writes_the_same_record_for_a_course(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    sign(app, world.alice, "bloc-1", INES_YES, ERIC_YES)
    sign(app, world.zoe, "bloc-1", ("Secret Juror", True, "validated", "course B"))
    where = ["--platform", world.course_a.issuer, "--context", world.course_a.context_id]
    framework = ["--framework", world.framework.key]

    printed = runner.invoke(main, ["jury", "record", *where, *framework, "--separator", ";"])
    assert printed.exit_code == 0, printed.output
    page = download(app, client, world, "/trainer/jury.csv", sep="semicolon")
    assert printed.stdout_bytes == page.data  # the trainer's download, byte for byte

    english = runner.invoke(main, ["jury", "record", *where, *framework, "--language", "en"])
    assert english.output.startswith("\ufeffLearner,Email,Bloc,Bloc title,Competency,Decision")
    assert "Validated by the jury" in english.output and "Secret Juror" not in english.output

    target = tmp_path / "pv.xlsx"
    written = runner.invoke(
        main, ["jury", "record", *where, *framework, "--format", "xlsx", "-o", str(target)]
    )
    assert written.output == f"1 deliberation(s) written to {target}.\n"
    sheet = load_workbook(target).active
    assert sheet is not None and [c.value for c in next(sheet.iter_rows(min_row=2))][:2] == [
        "Alice Martin",
        world.alice.email,
    ]


def test_the_cli_refuses_what_it_cannot_do_in_one_line(
    runner: FlaskCliRunner, world: World, tmp_path: Path
) -> None:
    where = ["--platform", world.course_a.issuer, "--context", world.course_a.context_id]

    no_file = runner.invoke(main, ["jury", "record", *where, "--format", "xlsx"])
    assert no_file.exit_code == 2 and "XLSX needs --output FILE" in no_file.output
    no_course = runner.invoke(main, ["jury", "record", "--platform", "https://x", "--context", "9"])
    assert no_course.exit_code == 1
    assert no_course.output == "Error: no course '9' known for platform 'https://x'\n"
    no_framework = runner.invoke(main, ["jury", "record", *where, "--framework", "nope"])
    assert no_framework.output == "Error: no référentiel 'nope' is loaded\n"
    assert no_framework.exit_code == 1
