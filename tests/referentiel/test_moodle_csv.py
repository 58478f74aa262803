"""Moodle's competency CSV (tool_lpimportcsv): what Moodle reads, and reading it back."""

from __future__ import annotations

import csv
import io
import json

import pytest

from referentiel.document import FrameworkDocument
from referentiel.exceptions import InvalidReferentiel
from referentiel.moodle_csv import HEADER, read_csv_text, write_csv

MOODLE_TAXONOMY_TERMS = {
    "behaviour",
    "competency",
    "concept",
    "domain",
    "indicator",
    "level",
    "outcome",
    "practice",
    "proficiency",
    "skill",
    "value",
}


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_header_is_moodles_fourteen_columns_and_every_row_has_them(
    diplovis: FrameworkDocument,
) -> None:
    rows = rows_of(write_csv(diplovis))
    assert rows[0] == [
        "Parent ID number",
        "ID number",
        "Short name",
        "Description",
        "Description format",
        "Scale values",
        "Scale configuration",
        "Rule type (optional)",
        "Rule outcome (optional)",
        "Rule config (optional)",
        "Cross-referenced competency ID numbers",
        "Exported ID (optional)",
        "Is framework",
        "Taxonomy",
    ]
    assert {len(row) for row in rows} == {14}
    assert len(rows) == 1 + 1 + 8 + 105


def test_framework_row_has_scale_with_default_and_proficient_values_and_taxonomy(
    diplovis: FrameworkDocument,
) -> None:
    framework_rows = [r for r in rows_of(write_csv(diplovis))[1:] if r[12] == "1"]
    assert len(framework_rows) == 1
    row = framework_rows[0]
    assert row[0] == "" and row[1] == "DIPLOVIS-BGDC"
    assert row[2] == "DIPLOVIS - Bachelor en gestion et développement commercial"
    assert row[5] == "Non acquis,En cours,Acquis,Validé"
    config = json.loads(row[6])
    assert set(config[0]) == {"scaleid"}
    items = config[1:]
    assert [i["id"] for i in items] == [1, 2, 3, 4]  # one per scale value, 1-based
    assert [i["scaledefault"] for i in items] == [1, 0, 0, 0]
    assert [i["proficient"] for i in items] == [0, 0, 1, 1]
    assert row[13].split(",") == ["domain", "competency"]  # one term per level
    assert set(row[13].split(",")) <= MOODLE_TAXONOMY_TERMS


def test_blocs_are_parents_and_competencies_their_children_with_unique_short_ids(
    diplovis: FrameworkDocument,
) -> None:
    rows = [r for r in rows_of(write_csv(diplovis))[1:] if r[12] != "1"]
    ids = [r[1] for r in rows]
    assert len(ids) == len(set(ids))
    assert all(0 < len(r[1]) <= 100 and 0 < len(r[2]) <= 100 for r in rows)
    blocs = [r for r in rows if r[0] == ""]
    assert [r[1] for r in blocs] == [
        "DIPLOVIS-BGDC-B1",
        "DIPLOVIS-BGDC-B2",
        "DIPLOVIS-BGDC-B3",
        "DIPLOVIS-BGDC-B4",
        "DIPLOVIS-BGDC-B5",
        "DIPLOVIS-BGDC-B6",
        "DIPLOVIS-BGDC-B7A",
        "DIPLOVIS-BGDC-B7B",
    ]
    children = [r for r in rows if r[0]]
    assert {r[0] for r in children} == {r[1] for r in blocs}
    c1 = next(r for r in children if r[1] == "DIPLOVIS-BGDC-B1-C1")
    assert c1[0] == "DIPLOVIS-BGDC-B1"
    assert c1[4] == "1"  # HTML
    # The short name is cut at 100 characters; the full text is in the description.
    assert c1[2].startswith("C1 : Prendre en charge") and c1[2].endswith("…")
    assert "de la demande, du besoin client</p>" in c1[3]
    assert "Activité 1 : Accueil, information, conseil auprès du client" in c1[3]
    # Activities, modalities and criteria travel in the bloc's description.
    b7a = next(r for r in blocs if r[1] == "DIPLOVIS-BGDC-B7A")
    assert "Bloc optionnel 7" in b7a[3]
    assert "Critères d’évaluation" in b7a[3] and "La méthode SMART est appliquée" in b7a[3]
    assert "Modalités d’évaluation" in b7a[3]


def test_texts_are_utf8_intact(diplovis: FrameworkDocument) -> None:
    data = write_csv(diplovis).encode("utf-8")
    assert not data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8")
    assert "œ" in text and "’" in text and "é" in text and "«" in text


def test_csv_to_document_to_csv_is_identical(diplovis: FrameworkDocument) -> None:
    first = write_csv(diplovis)
    read_back = read_csv_text(first, source="export.csv")
    assert read_back == diplovis
    assert write_csv(read_back) == first


def test_semicolon_and_bom_are_read_too(diplovis: FrameworkDocument) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";", lineterminator="\r\n").writerows(rows_of(write_csv(diplovis)))
    assert read_csv_text("\ufeff" + buffer.getvalue(), source="excel.csv") == diplovis


def test_a_framework_written_by_moodle_is_read_as_blocs_and_competencies() -> None:
    text = (
        ",".join(HEADER)
        + "\n"
        + ',SKILLS,Compétences numériques,"<p>Cadre</p>",1,"A,B",'
        + '"[{""scaleid"":""2""},{""id"":2,""scaledefault"":1,""proficient"":1}]"'
        + ',,,,,,1,"competency,competency"\n'
        + ',SKILLS-D1,Domaine 1,"<p>Information et données</p>",1,,,,0,null,,1,,\n'
        + 'SKILLS-D1,SKILLS-D1-1.1,"Mener une recherche","<p>Mener une recherche et une '
        + 'veille</p>",1,,,,0,null,,2,,\n'
    )
    doc = read_csv_text(text, source="moodle.csv")
    assert doc.key == "skills" and doc.title == "Compétences numériques"
    assert [(b.key, b.title) for b in doc.blocs] == [("d1", "Domaine 1")]
    assert [(c.code, c.text) for c in doc.blocs[0].competencies] == [
        ("1.1", "Mener une recherche et une veille")
    ]


def test_a_bloc_number_from_an_id_number_must_fit() -> None:
    text = (
        ",".join(HEADER)
        + "\n,FW,Cadre,,1,,,,,,,,1,\n"
        + ",FW-B9999999999999999999999,Domaine,,1,,,,,,,,0,\n"
    )
    with pytest.raises(InvalidReferentiel) as error:
        read_csv_text(text, source="moodle.csv")
    assert str(error.value) == (
        "moodle.csv: line 3: the bloc number in ID number 'FW-B9999999999999999999999' is "
        "'9999999999999999999999', not a number from 0 to 999"
    )


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda t: t.replace("Taxonomy\n", "Taxonomy,Extra\n", 1), "line 1: expected Moodle's 14"),
        (lambda t: t + ',X-1,"unterminated,1,,,,,,,,,0,\n', "line 116: unexpected end of data"),
        (lambda t: t + ",DIPLOVIS-BGDC-B1,Again,,1,,,,,,,,0,\n", "line 116: ID number"),
        (lambda t: t + "NOWHERE,X-1,Orphan,,1,,,,,,,,0,\n", "line 116: parent ID number 'NOWHERE'"),
        (
            lambda t: t + "DIPLOVIS-BGDC-B1-C1,X-1,Too deep,,1,,,,,,,,0,\n",
            "line 116: 'X-1' is nested deeper",
        ),
        (lambda t: t + "DIPLOVIS-BGDC-B1,X-1,,,1,,,,,,,,0,\n", "line 116: Short name is empty"),
        (lambda t: t.replace(',1,"domain', ',0,"domain'), "exactly one row must have"),
        (
            lambda t: t + "DIPLOVIS-BGDC-B1,DIPLOVIS-BGDC-B1-C 99,Spaces,,1,,,,,,,,0,\n",
            "line 116: $.blocs[0].competencies[15].code: 'C 99' does not match",
        ),
        (
            lambda t: t.replace('data-number=""1""', 'data-number=""abc""', 1),
            "line 3: bloc number (data-number) is 'abc', not a number from 0 to 999",
        ),
        (
            lambda t: t.replace('data-number=""1""', 'data-number=""1000""', 1),
            "line 3: bloc number (data-number) is '1000', not a number from 0 to 999",
        ),
        (
            lambda t: t.replace("Prendre en charge", "Prendre\x00 en charge", 1),
            "line 4: Short name contains a NUL character (U+0000), which cannot be stored",
        ),
    ],
)
def test_a_broken_csv_gets_one_error_naming_the_line(
    diplovis: FrameworkDocument, mangle: object, message: str
) -> None:
    text = mangle(write_csv(diplovis))  # type: ignore[operator]
    with pytest.raises(InvalidReferentiel) as error:
        read_csv_text(text, source="broken.csv")
    assert str(error.value).startswith("broken.csv: ")
    assert message in str(error.value)
