"""The tool's xAPI profile: how content names a competency so that it becomes evidence.

Served at ``{BASE}/xapi/profile`` as JSON-LD following the xAPI Profiles 1.0
structure (https://w3id.org/xapi/profiles, Part Two: Profile properties, Concepts
§ Activities, Statement Templates and their rules). Each competency of the loaded
référentiels is an Activity concept of type ``http://adlnet.gov/expapi/activities/objective``;
two Statement Templates describe the two ways to use it: tagged in
``context.contextActivities.parent`` (what cmi5 advises for objectives), or as the
statement's object.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

PROFILES_CONTEXT = "https://w3id.org/xapi/profiles/context"
ACTIVITY_CONTEXT = "https://w3id.org/xapi/profiles/activity-context"
PROFILES_1_0 = "https://w3id.org/xapi/profiles#1.0"
OBJECTIVE = "http://adlnet.gov/expapi/activities/objective"
# The date this version of the convention was written; a new version gets a new IRI.
VERSION = "v1"
VERSION_DATE = "2026-11-26T00:00:00Z"


@dataclass(frozen=True)
class CompetencyConcept:
    iri: str
    code: str  # e.g. "bloc-2/C10"
    text: str


def profile_iri(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/xapi/profile"


def profile_document(
    base_url: str, tool_name: str, competencies: Sequence[CompetencyConcept]
) -> dict[str, Any]:
    """The profile as a JSON-LD object (the spec forbids empty arrays: none are emitted)."""
    profile = profile_iri(base_url)
    version = f"{profile}/{VERSION}"
    iris = [c.iri for c in competencies]
    parent_rule: dict[str, Any] = {
        "location": "$.context.contextActivities.parent[*].id",
        "presence": "included",
        "scopeNote": {
            "en": "The IRI of the competency the statement is evidence for, one entry per "
            "competency, each with definition.type " + OBJECTIVE + ".",
            "fr": "L'IRI de la compétence dont la déclaration est une preuve, une entrée par "
            "compétence, chacune avec definition.type " + OBJECTIVE + ".",
        },
    }
    object_rule: dict[str, Any] = {"location": "$.object.id", "presence": "included"}
    if iris:
        parent_rule["any"] = iris
        object_rule["any"] = iris
    result_rule = {
        "location": "$.result",
        "presence": "recommended",
        "scopeNote": {
            "en": "score.scaled (or raw with min and max), success and completion. A statement "
            "without any of them (launched, initialized, experienced...) is kept but is not "
            "evidence, unless its verb is passed, mastered, failed or completed.",
            "fr": "score.scaled (ou raw avec min et max), success et completion. Une "
            "déclaration qui n'en a aucun (launched, initialized, experienced...) est gardée "
            "mais n'est pas une preuve, sauf avec les verbes passed, mastered, failed ou "
            "completed.",
        },
    }
    actor_rule = {
        "location": "$.actor.account",
        "presence": "recommended",
        "scopeNote": {
            "en": "homePage: the LMS site URL (the LTI issuer); name: the LMS user id (the LTI "
            "sub), as Moodle's logstore_xapi sends. An mbox or mbox_sha1sum matching the email "
            "the LMS gives at launch also identifies the learner.",
            "fr": "homePage : l'URL du site de la plateforme (l'issuer LTI) ; name : "
            "l'identifiant de l'utilisateur (le sub LTI), comme l'envoie logstore_xapi de "
            "Moodle. Un mbox ou mbox_sha1sum égal à l'adresse transmise au lancement "
            "identifie aussi l'apprenant.",
        },
    }
    document: dict[str, Any] = {
        "@context": PROFILES_CONTEXT,
        "id": profile,
        "type": "Profile",
        "conformsTo": PROFILES_1_0,
        "prefLabel": {
            "en": f"{tool_name}: competency evidence",
            "fr": f"{tool_name} : preuves de compétences",
        },
        "definition": {
            "en": "How a learning activity makes its xAPI statements count as evidence for a "
            "competency of the référentiel: tag the competency IRI in "
            "context.contextActivities.parent with the ADL objective activity type, or make "
            "it the object. Statements about other activities count through the tool's "
            "mapping rules.",
            "fr": "Comment une activité fait compter ses déclarations xAPI comme preuves d'une "
            "compétence du référentiel : mettre l'IRI de la compétence dans "
            "context.contextActivities.parent avec le type d'activité objective de l'ADL, ou "
            "en faire l'objet. Les autres activités comptent par les règles de "
            "correspondance de l'outil.",
        },
        "seeAlso": profile,
        "versions": [{"id": version, "generatedAtTime": VERSION_DATE}],
        "author": {"type": "Organization", "name": tool_name, "url": base_url.rstrip("/")},
        "templates": [
            {
                "id": f"{profile}/templates/competency-in-parent",
                "type": "StatementTemplate",
                "inScheme": version,
                "prefLabel": {
                    "en": "Evidence tagged with a competency",
                    "fr": "Preuve étiquetée par une compétence",
                },
                "definition": {
                    "en": "Any activity (quiz, simulation, cmi5 AU) whose result shows a "
                    "competency: the competency is a parent context activity.",
                    "fr": "Toute activité (quiz, simulation, AU cmi5) dont le résultat montre "
                    "une compétence : la compétence est une activité de contexte parente.",
                },
                "allowedSolo": True,
                "contextParentActivityType": [OBJECTIVE],
                "rules": [parent_rule, result_rule, actor_rule],
            },
            {
                "id": f"{profile}/templates/competency-as-object",
                "type": "StatementTemplate",
                "inScheme": version,
                "prefLabel": {
                    "en": "A result about the competency itself",
                    "fr": "Un résultat sur la compétence elle-même",
                },
                "definition": {
                    "en": "An assessment reports on the competency directly (for instance "
                    "'mastered' or 'failed' with the competency as object).",
                    "fr": "Une évaluation porte directement sur la compétence (par exemple "
                    "« mastered » ou « failed » avec la compétence pour objet).",
                },
                "allowedSolo": True,
                "objectActivityType": OBJECTIVE,
                "rules": [object_rule, result_rule, actor_rule],
            },
        ],
    }
    if competencies:
        document["concepts"] = [
            {
                "id": c.iri,
                "type": "Activity",
                "inScheme": version,
                "activityDefinition": {
                    "@context": ACTIVITY_CONTEXT,
                    "type": OBJECTIVE,
                    "name": {"fr": c.code},
                    "description": {"fr": c.text},
                },
            }
            for c in competencies
        ]
    return document
