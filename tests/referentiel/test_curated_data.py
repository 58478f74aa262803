"""The built-in DIPLOVIS data file, held to the seed it was curated from."""

from __future__ import annotations

import json
import re

import pytest

from referentiel import data_file
from referentiel.document import FrameworkDocument

EXPECTED_BLOCS = [
    ("bloc-1", 1, "Bloc 1", "Gestion de la relation client en face à face ou à distance"),
    (
        "bloc-2",
        2,
        "Bloc 2",
        "Gestion des aspects administratifs et financiers d’un dossier client",
    ),
    (
        "bloc-3",
        3,
        "Bloc 3",
        "Accompagnement à la coordination de la data et des processus support",
    ),
    (
        "bloc-4",
        4,
        "Bloc 4",
        "Accompagnement au développement des activités support de la fonction commerciale",
    ),
    (
        "bloc-5",
        5,
        "Bloc 5",
        "Traduction opérationnelle des axes stratégiques de l’entreprise et participation "
        "au développement commercial",
    ),
    (
        "bloc-6",
        6,
        "Bloc 6",
        "Management opérationnel des Hommes, de l’organisation en responsabilité et des "
        "changements",
    ),
    (
        "bloc-7a",
        7,
        "Bloc Optionnel 7",
        "Management fonctionnel, pilotage et contrôle des moyens d’une unité, d’un département",
    ),
    (
        "bloc-7b",
        7,
        "Bloc Optionnel 7",
        "Développement de la stratégie commerciale et pilotage de la performance",
    ),
]
EXPECTED_COMPETENCY_COUNTS = {
    "bloc-1": 15,
    "bloc-2": 14,
    "bloc-3": 11,
    "bloc-4": 11,
    "bloc-5": 12,
    "bloc-6": 14,
    "bloc-7a": 14,
    "bloc-7b": 14,
}

# Full texts read in the seed by a person, first and last competency of each bloc.
EXPECTED_TEXTS = {
    ("bloc-1", "C1"): "Prendre en charge en face à face ou à distance un client / un prospect afin "
    "d’effectuer l’étude préalable de la demande, du besoin client",
    ("bloc-1", "C15"): "Etablir une dynamique e-relationnelle",
    ("bloc-2", "C1"): "Intégrer ou vérifier l’enregistrement des commandes afin d’assurer le "
    "déclenchement du processus de production, de distribution",
    ("bloc-2", "C14"): "Participer à la veille budgétaire et financière afin d’accompagner le "
    "manager dans le contrôle de la rentabilité des activités",
    ("bloc-3", "C1"): "Utiliser des tableurs, ERP, CRM, progiciel de gestion des stocks et "
    "intégrer des commandes sur un logiciel pour optimiser la réactivité de transmission des "
    "données",
    ("bloc-3", "C11"): "Accueillir, accompagner, transmettre des connaissances techniques à de "
    "nouveaux collaborateurs / stagiaires pour renforcer les équipes et garantir la bonne "
    "application des process",
    ("bloc-4", "C1"): "Intervenir sur les plannings (tournées, interventions, RDV commerciaux, "
    "etc…) / les agendas partagés et les adapter en fonction des contraintes "
    "organisationnelles des acteurs dans le but d’optimiser la communication générale du(des) "
    "service(s)",
    ("bloc-4", "C11"): "Suivre le taux de satisfaction client et proposer des évolutions des "
    "fonctionnalités liées aux programmes de fidélisation visant une meilleure expérience de "
    "marque",
    ("bloc-5", "C1"): "Assurer une veille continue de l’environnement macro, micro, nano "
    "économique en identifiant les sources et ressources nécessaires afin d’adapter le "
    "positionnement de son entité aux interactions avec/entre les opérateurs du(des) marché(s)",
    ("bloc-5", "C12"): "Partager la politique générale de l’entreprise dans le domaine RSE avec "
    "les collaborateurs en donnant du sens aux actions de l’entité afin de créer un principe de "
    "réciprocité dans les activités de chacun",
    ("bloc-6", "C1"): "Etablir un diagnostic humain de son équipe en appréhendant la diversité "
    "des profils la composant, incluant le personnel en situation de handicap, afin de "
    "déterminer les leviers d’accompagnement et d’encadrement personnalisés de chacun de ses "
    "collaborateurs",
    ("bloc-6", "C14"): "Identifier les tâches à faible valeur ajoutée et/ou chronophages dans "
    "l’organisation du service en brainstormant avec son équipe pour repositionner les "
    "collaborateurs dans leur cœur de métier et limiter les risques impactant l’efficience des "
    "actions et la démotivation des salariés",
    ("bloc-7a", "C1"): "Animer le système de pilotage budgétaire via les outils de gestion "
    "internes afin d’analyser les écarts entre chaque centre de coût et les budgets "
    "prévisionnels établis en amont",
    ("bloc-7a", "C14"): "Superviser la conformité de l’UO en contrôlant l’utilisation de "
    "l’ensemble des procédures pour accompagner l’organisation vers une démarche qualité normée",
    ("bloc-7b", "C1"): "Construire le plan d’action(s) commerciale(s) omnicanal, sous la forme "
    "d’une feuille de route, en réponse à l’analyse préalable d’opportunité, afin d’organiser "
    "une démarche structurée pour le pôle commercial",
    ("bloc-7b", "C14"): "Procéder aux ajustements nécessaires à la réalisation du plan "
    "d’action(s) commerciale(s) en apportant des correctifs concernant les moyens humains, "
    "financiers et matériels pour accompagner les équipes à l’atteinte des objectifs et la "
    "sécuriser",
}


def normalised(text: str) -> str:
    # The only hyphen the PDF cut at a line end is a real one ("après-" / "vente").
    return " ".join(text.split()).replace("après- vente", "après-vente")


def seed_sections(seed: str) -> dict[str, str]:
    """The seed cut at its bloc headings, in order, keyed by our bloc keys."""
    text = normalised(seed)
    starts = [m.start() for m in re.finditer(r"Bloc (?:Optionnel )?\d+ : ", text)]
    assert len(starts) == len(EXPECTED_BLOCS)
    ends = [*starts[1:], len(text)]
    return {key: text[s:e] for (key, *_), s, e in zip(EXPECTED_BLOCS, starts, ends, strict=True)}


def test_exact_counts(diplovis: FrameworkDocument) -> None:
    assert diplovis.counts() == {
        "blocs": 8,
        "activities": 29,
        "competencies": 105,
        "criteria": 86,
    }
    assert {b.key: len(b.competencies) for b in diplovis.blocs} == EXPECTED_COMPETENCY_COUNTS


def test_bloc_list_and_titles_match_the_seed(diplovis: FrameworkDocument, seed_text: str) -> None:
    assert [(b.key, b.number, b.title) for b in diplovis.blocs] == [
        (key, number, title) for key, number, _, title in EXPECTED_BLOCS
    ]
    sections = seed_sections(seed_text)
    for key, number, heading, title in EXPECTED_BLOCS:
        assert sections[key].startswith(f"{heading} : {title}"), key
        assert heading.endswith(str(number))


def test_both_bloc_7_tracks_are_optional_alternatives(diplovis: FrameworkDocument) -> None:
    seven = [b for b in diplovis.blocs if b.number == 7]
    assert [b.key for b in seven] == ["bloc-7a", "bloc-7b"]
    assert all(b.optional and b.option_group == "bloc-7" for b in seven)
    assert not any(b.optional for b in diplovis.blocs if b.number != 7)


def test_each_bloc_has_its_competency_codes_in_seed_order(
    diplovis: FrameworkDocument, seed_text: str
) -> None:
    sections = seed_sections(seed_text)
    for bloc in diplovis.blocs:
        count = EXPECTED_COMPETENCY_COUNTS[bloc.key]
        assert [c.code for c in bloc.competencies] == [f"C{n}" for n in range(1, count + 1)]
        in_seed = [int(n) for n in re.findall(r"\bC(\d+)(?: :| [A-Z])", sections[bloc.key])]
        assert in_seed == list(range(1, count + 1)), bloc.key


def test_every_competency_text_is_the_seed_text_under_its_code(
    diplovis: FrameworkDocument, seed_text: str
) -> None:
    sections = seed_sections(seed_text)
    for bloc in diplovis.blocs:
        for competency in bloc.competencies:
            text = normalised(competency.text)
            labelled = (f"{competency.code} : {text}", f"{competency.code} {text}")
            assert any(label in sections[bloc.key] for label in labelled), (
                bloc.key,
                competency.code,
            )


@pytest.mark.parametrize(("bloc_key", "code"), sorted(EXPECTED_TEXTS))
def test_full_text_of_first_and_last_competency_of_each_bloc(
    diplovis: FrameworkDocument, seed_text: str, bloc_key: str, code: str
) -> None:
    bloc = next(b for b in diplovis.blocs if b.key == bloc_key)
    competency = next(c for c in bloc.competencies if c.code == code)
    expected = EXPECTED_TEXTS[(bloc_key, code)]
    assert competency.text == expected
    assert normalised(expected) in seed_sections(seed_text)[bloc_key]


def test_criteria_and_activities_come_from_their_bloc_in_the_seed(
    diplovis: FrameworkDocument, seed_text: str
) -> None:
    sections = seed_sections(seed_text)
    # Four texts were re-joined across columns or pages (see CURATION.md): compare their
    # first words only.
    for bloc in diplovis.blocs:
        for criterion in bloc.criteria:
            head = " ".join(normalised(criterion.text).split()[:5])
            assert head in sections[bloc.key], (bloc.key, criterion.key)
        for activity in bloc.activities:
            head = " ".join(normalised(activity.title).split()[:5])
            assert f"Activité {activity.number} : {head}" in sections[bloc.key]


def test_packaged_file_validates_against_the_schema() -> None:
    schema = json.loads(data_file.data_resource("referentiel.schema.json").read_text("utf-8"))
    assert schema["properties"]["format"] == {"const": "lti-tool-referentiel"}
    assert data_file.builtin_names() == ["diplovis-bgdc"]
