"""RNCP XML export (France Compétences): fiches, blocs and their competency lists."""

from __future__ import annotations

from pathlib import Path

import pytest

from referentiel.exceptions import InvalidReferentiel, ReferentielNotFound
from referentiel.rncp import read_rncp_file, split_competencies

FIXTURES = Path(__file__).parent / "fixtures"
SAMPLE = FIXTURES / "rncp-sample.xml"


def test_a_fiche_becomes_a_referentiel_with_its_blocs() -> None:
    fiche = read_rncp_file(SAMPLE, fiche="rncp38211")[0]
    assert (fiche.key, fiche.rncp_code, fiche.abbreviation) == (
        "rncp38211",
        "RNCP38211",
        "DIPLOVIS",
    )
    assert fiche.title == "Responsable du développement commercial"
    assert fiche.version == "2023-11-29"
    assert [(b.key, b.number, b.title) for b in fiche.blocs] == [
        ("bc01", 1, "Analyser le marché et définir la stratégie commerciale"),
        ("bc02", 2, "Piloter l’action commerciale et manager l’équipe de vente"),
        ("bc03", 3, "Négocier et fidéliser les comptes clés"),
    ]
    assert fiche.blocs[0].modalities == (
        "Étude de cas écrite portant sur une entreprise réelle.",
        "Soutenance orale devant un jury de professionnels.",
    )


def test_escaped_html_list_is_split_into_competencies_and_kept_raw() -> None:
    bloc = read_rncp_file(SAMPLE, fiche="RNCP38211")[0].blocs[0]
    assert [(c.code, c.text) for c in bloc.competencies] == [
        (
            "C1",
            "Réaliser une veille concurrentielle et réglementaire afin d’identifier les "
            "opportunités du marché",
        ),
        (
            "C2",
            "Segmenter la clientèle à partir des données du CRM pour cibler les actions "
            "« prioritaires »",
        ),
        (
            "C3",
            "Formaliser la stratégie commerciale omnicanale en cohérence avec la politique RSE "
            "de l’entreprise",
        ),
    ]
    assert bloc.competency_list_raw.startswith("<p>Le candidat est capable de :</p><ul><li>")


def test_coded_lines_with_breaks_keep_their_codes_and_join_cut_sentences() -> None:
    bloc = read_rncp_file(SAMPLE, fiche="RNCP38211")[0].blocs[1]
    assert [c.code for c in bloc.competencies] == ["C1", "C2", "C3", "C4"]
    assert bloc.competencies[2].text == (
        "Suivre les indicateurs de performance et proposer des actions correctives adaptées"
    )


@pytest.mark.parametrize(
    ("markup", "expected"),
    [
        ("- Préparer\n- Conduire\n", ["Préparer", "Conduire"]),
        ("<p>Capacités :</p><p>• Analyser</p><p>• Décider</p>", ["Analyser", "Décider"]),
        ("1. Analyser\n2) Décider", ["Analyser", "Décider"]),
        ("<ol><li>C2 - Décider</li><li>C1 - Analyser</li></ol>", ["Décider", "Analyser"]),
        ("", []),
        ("Comparer a < b et b > c\nDécider", ["Comparer a < b et b > c", "Décider"]),
    ],
)
def test_split_competencies(markup: str, expected: list[str]) -> None:
    assert [c.text for c in split_competencies(markup)] == expected


def test_every_fiche_without_filter() -> None:
    assert [d.key for d in read_rncp_file(SAMPLE)] == ["rncp38211", "rncp36004"]


def test_a_large_file_is_streamed_to_the_wanted_fiche(tmp_path: Path) -> None:
    fiche = (
        "<FICHE><NUMERO_FICHE>RNCP{n}</NUMERO_FICHE><INTITULE>Titre {n}</INTITULE>"
        "<BLOCS_COMPETENCES><BLOC_COMPETENCES><CODE>RNCP{n}BC01</CODE><LIBELLE>Bloc</LIBELLE>"
        "<LISTE_COMPETENCES>&lt;ul&gt;&lt;li&gt;Agir {n}&lt;/li&gt;&lt;/ul&gt;"
        "</LISTE_COMPETENCES></BLOC_COMPETENCES></BLOCS_COMPETENCES></FICHE>\n"
    )
    path = tmp_path / "national.xml"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("<?xml version='1.0' encoding='UTF-8'?>\n<FICHES>\n")
        for n in range(10000, 13000):
            handle.write(fiche.format(n=n))
        handle.write("</FICHES>\n")
    [found] = read_rncp_file(path, fiche="RNCP12999")
    assert found.blocs[0].competencies[0].text == "Agir 12999"


@pytest.mark.parametrize(
    ("name", "fiche", "error", "message"),
    [
        ("rncp-malformed.xml", None, InvalidReferentiel, "line 10: not well-formed XML"),
        (
            "rncp-broken-bloc.xml",
            None,
            InvalidReferentiel,
            "line 19: <BLOC_COMPETENCES> has no CODE",
        ),
        (
            "rncp-sample.xml",
            "RNCP99999",
            ReferentielNotFound,
            "no FICHE with NUMERO_FICHE RNCP99999",
        ),
    ],
)
def test_bad_files_get_one_error_naming_the_line_or_element(
    name: str, fiche: str | None, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as raised:
        read_rncp_file(FIXTURES / name, fiche=fiche)
    assert str(raised.value).startswith(str(FIXTURES / name))
    assert message in str(raised.value)


def test_a_bloc_code_ending_in_too_large_a_number_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_text(
        "<FICHES>\n<FICHE><NUMERO_FICHE>RNCP12345</NUMERO_FICHE><INTITULE>T</INTITULE>"
        "<BLOCS_COMPETENCES><BLOC_COMPETENCES><CODE>RNCP12345BC99999999999999999</CODE>"
        "<LIBELLE>B</LIBELLE><LISTE_COMPETENCES>Agir</LISTE_COMPETENCES></BLOC_COMPETENCES>"
        "</BLOCS_COMPETENCES></FICHE></FICHES>\n",
        encoding="utf-8",
    )
    with pytest.raises(InvalidReferentiel) as error:
        read_rncp_file(path)
    assert str(error.value) == (
        f"{path}: line 2: <BLOC_COMPETENCES> code 'RNCP12345BC99999999999999999' ends with "
        "99999999999999999, not a bloc number from 0 to 999"
    )


@pytest.mark.parametrize("fiche", ["", "  "])
def test_an_empty_fiche_number_is_refused_not_read_as_every_fiche(fiche: str) -> None:
    with pytest.raises(InvalidReferentiel, match=r"^the fiche number given is empty"):
        read_rncp_file(SAMPLE, fiche=fiche)


def test_wrong_root_element(tmp_path: Path) -> None:
    path = tmp_path / "other.xml"
    path.write_text("<?xml version='1.0'?>\n<CATALOGUE><FICHE/></CATALOGUE>\n", encoding="utf-8")
    with pytest.raises(InvalidReferentiel, match="line 2: root element is <CATALOGUE>"):
        read_rncp_file(path)


def test_entities_are_never_expanded(tmp_path: Path) -> None:
    path = tmp_path / "xxe.xml"
    path.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE FICHES [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        "<FICHES><FICHE><NUMERO_FICHE>RNCP1</NUMERO_FICHE><INTITULE>T &x;</INTITULE>"
        "<BLOCS_COMPETENCES><BLOC_COMPETENCES><CODE>RNCP1BC01</CODE><LIBELLE>B</LIBELLE>"
        "<LISTE_COMPETENCES>Agir</LISTE_COMPETENCES></BLOC_COMPETENCES></BLOCS_COMPETENCES>"
        "</FICHE></FICHES>\n",
        encoding="utf-8",
    )
    [fiche] = read_rncp_file(path)
    assert "root:" not in fiche.title
