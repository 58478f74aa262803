"""1EdTech CASE 1.0 (Competencies and Academic Standards Exchange): the CFPackage.

A framework becomes a CFDocument; blocs, activities and competencies become CFItems
(CFItemType "Bloc", "Activité", "Compétence", humanCodingScheme the référentiel's own
code), linked by isChildOf CFAssociations (CASE 1.0 §4.2: the child is the origin
node, the parent the destination): bloc → document, activity → bloc, competency →
its activity (or its bloc when it has none). Each bloc's evaluation criteria form a
CFRubric whose CFRubricCriteria point at the bloc's CFItem.

Identifiers are UUIDv5 derived from stable keys (framework key, bloc key, activity
key, competency code), so they never change from one export to the next and do not
depend on the host. URIs live under the tool's base URL: a bloc's or competency's
``uri`` is its référentiel IRI (the same IRI xAPI statements name); other objects
point at the CASE service paths ``/ims/case/v1p0/...``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from referentiel.document import BlocDocument, FrameworkDocument

CASE_PATH = "/ims/case/v1p0"
# Fixed namespace for every identifier this tool derives (never change it).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lti-tool-competences:case:v1")

ITEM_TYPES = {
    "Bloc": "Bloc de compétences",
    "Activité": "Activité du référentiel d’activités",
    "Compétence": "Compétence du référentiel de compétences",
}


def derived_identifier(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def document_identifier(framework_key: str) -> str:
    return derived_identifier("CFDocument", framework_key)


def case_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _link(title: str, identifier: str, uri: str) -> dict[str, str]:
    return {"title": title, "identifier": identifier, "uri": uri}


class _Builder:
    def __init__(self, doc: FrameworkDocument, base_url: str, changed: datetime, creator: str):
        self.doc = doc
        self.base = base_url.rstrip("/")
        self.changed = case_datetime(changed)
        self.creator = creator
        self.doc_id = document_identifier(doc.key)
        self.doc_uri = f"{self.base}/referentiels/{doc.key}"
        self.doc_link = _link(doc.title, self.doc_id, self.doc_uri)
        self.items: list[dict[str, Any]] = []
        self.associations: list[dict[str, Any]] = []
        self.rubrics: list[dict[str, Any]] = []
        self.type_ids = {name: derived_identifier("CFItemType", name) for name in ITEM_TYPES}

    def service_uri(self, kind: str, identifier: str) -> str:
        return f"{self.base}{CASE_PATH}/{kind}/{identifier}"

    def item(
        self,
        *,
        identifier: str,
        uri: str,
        statement: str,
        item_type: str,
        code: str,
        position: int,
        **extra: Any,
    ) -> dict[str, str]:
        item: dict[str, Any] = {
            "identifier": identifier,
            "uri": uri,
            "fullStatement": statement,
            "humanCodingScheme": code,
            "listEnumeration": str(position),
            "CFItemType": item_type,
            "CFItemTypeURI": _link(
                item_type,
                self.type_ids[item_type],
                self.service_uri("CFItemTypes", self.type_ids[item_type]),
            ),
            "language": self.doc.language,
            "lastChangeDateTime": self.changed,
            "CFDocumentURI": self.doc_link,
        }
        item.update({k: v for k, v in extra.items() if v})
        self.items.append(item)
        return _link(statement, identifier, uri)

    def child_of(self, child: dict[str, str], parent: dict[str, str], sequence: int) -> None:
        identifier = derived_identifier(
            "CFAssociation", child["identifier"], "isChildOf", parent["identifier"]
        )
        self.associations.append(
            {
                "identifier": identifier,
                "associationType": "isChildOf",
                "sequenceNumber": sequence,
                "uri": self.service_uri("CFAssociations", identifier),
                "originNodeURI": child,
                "destinationNodeURI": parent,
                "lastChangeDateTime": self.changed,
                "CFDocumentURI": self.doc_link,
            }
        )

    def bloc(self, bloc: BlocDocument, position: int) -> None:
        key = self.doc.key
        bloc_uri = f"{self.doc_uri}/{bloc.key}"
        bloc_link = self.item(
            identifier=derived_identifier("CFItem", key, bloc.key),
            uri=bloc_uri,
            statement=bloc.title,
            item_type="Bloc",
            code=bloc.key,
            position=position,
            alternativeLabel=f"Bloc {bloc.key.removeprefix('bloc-')}",
            notes="\n\n".join(part for part in (bloc.description, *bloc.modalities) if part),
        )
        self.child_of(bloc_link, self.doc_link, position)
        activity_links: dict[str, dict[str, str]] = {}
        for i, activity in enumerate(bloc.activities, start=1):
            link = self.item(
                identifier=derived_identifier("CFItem", key, bloc.key, "activity", activity.key),
                uri=f"{bloc_uri}#activite-{activity.key}",
                statement=activity.title,
                item_type="Activité",
                code=activity.key,
                position=i,
                alternativeLabel=f"Activité {activity.number}",
            )
            activity_links[activity.key] = link
            self.child_of(link, bloc_link, i)
        for i, competency in enumerate(bloc.competencies, start=1):
            link = self.item(
                identifier=derived_identifier("CFItem", key, bloc.key, competency.code),
                uri=f"{bloc_uri}/{competency.code}",
                statement=competency.text,
                item_type="Compétence",
                code=competency.code,
                position=i,
            )
            parent = activity_links.get(competency.activity or "", bloc_link)
            self.child_of(link, parent, i)
        if bloc.criteria:
            self.rubric(bloc, bloc_link)

    def rubric(self, bloc: BlocDocument, bloc_link: dict[str, str]) -> None:
        rubric_id = derived_identifier("CFRubric", self.doc.key, bloc.key)
        criteria = []
        for i, criterion in enumerate(bloc.criteria, start=1):
            identifier = derived_identifier(
                "CFRubricCriterion", self.doc.key, bloc.key, criterion.key
            )
            criteria.append(
                {
                    "identifier": identifier,
                    "uri": f"{bloc_link['uri']}#critere-{criterion.key}",
                    "category": criterion.key,
                    "description": criterion.text,
                    "CFItemURI": bloc_link,
                    "position": i,
                    "rubricId": rubric_id,
                    "lastChangeDateTime": self.changed,
                }
            )
        self.rubrics.append(
            {
                "identifier": rubric_id,
                "uri": self.service_uri("CFRubrics", rubric_id),
                "title": f"Critères d’évaluation – {bloc.title}",
                "description": f"Critères d’évaluation du bloc {bloc.key}",
                "lastChangeDateTime": self.changed,
                "CFRubricCriteria": criteria,
            }
        )

    def item_types(self) -> list[dict[str, Any]]:
        return [
            {
                "identifier": self.type_ids[name],
                "uri": self.service_uri("CFItemTypes", self.type_ids[name]),
                "title": name,
                "description": description,
                "hierarchyCode": str(level),
                "lastChangeDateTime": self.changed,
            }
            for level, (name, description) in enumerate(ITEM_TYPES.items(), start=1)
        ]


def cf_document(
    doc: FrameworkDocument, base_url: str, changed: datetime, creator: str
) -> dict[str, Any]:
    """The CFDocument alone (what ``GET /CFDocuments`` lists)."""
    base = base_url.rstrip("/")
    identifier = document_identifier(doc.key)
    document: dict[str, Any] = {
        "identifier": identifier,
        "uri": f"{base}/referentiels/{doc.key}",
        "creator": creator,
        "title": doc.title,
        "lastChangeDateTime": case_datetime(changed),
        "description": doc.description,
        "language": doc.language,
        "version": doc.version,
        "adoptionStatus": "Adopted",
        "notes": doc.jury,
        "CFPackageURI": _link(doc.title, identifier, f"{base}{CASE_PATH}/CFPackages/{identifier}"),
    }
    if doc.abbreviation:
        document["subject"] = [doc.abbreviation]
    return {k: v for k, v in document.items() if v != ""}


def cf_package(
    doc: FrameworkDocument, base_url: str, changed: datetime, creator: str = "lti-tool"
) -> dict[str, Any]:
    """The CFPackage (CASE 1.0 REST binding, getCFPackage response body)."""
    builder = _Builder(doc, base_url, changed, creator)
    for position, bloc in enumerate(doc.blocs, start=1):
        builder.bloc(bloc, position)
    package: dict[str, Any] = {
        "CFDocument": cf_document(doc, base_url, changed, creator),
        "CFItems": builder.items,
        "CFAssociations": builder.associations,
        "CFDefinitions": {"CFItemTypes": builder.item_types()},
    }
    if builder.rubrics:
        package["CFRubrics"] = builder.rubrics
    return package
