"""IRIs of frameworks, blocs and competencies, and the way back (contract for xapi)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from referentiel.document import FrameworkDocument
from referentiel.loading import load_document
from referentiel.lookup import bloc_iri, competency_by_iri, competency_iri, framework_iri

BASE = "https://tool.example/sub"


def test_iris_and_back(session: Session, diplovis: FrameworkDocument) -> None:
    framework = load_document(session, diplovis).framework
    bloc = next(b for b in framework.blocs if b.key == "bloc-7b")
    c3 = next(c for c in bloc.competencies if c.code == "C3")
    assert framework_iri(BASE, framework) == f"{BASE}/referentiels/diplovis-bgdc"
    assert bloc_iri(BASE + "/", bloc) == f"{BASE}/referentiels/diplovis-bgdc/bloc-7b"
    iri = competency_iri(BASE, c3)
    assert iri == f"{BASE}/referentiels/diplovis-bgdc/bloc-7b/C3"
    assert competency_by_iri(session, iri, BASE) is c3
    assert competency_by_iri(session, iri + "/", BASE) is c3


def test_unknown_or_foreign_iris_resolve_to_none(
    session: Session, diplovis: FrameworkDocument
) -> None:
    load_document(session, diplovis)
    for iri in [
        f"{BASE}/referentiels/diplovis-bgdc/bloc-1/C99",
        f"{BASE}/referentiels/diplovis-bgdc/bloc-9/C1",
        f"{BASE}/referentiels/diplovis-bgdc/bloc-1",
        f"{BASE}/referentiels/diplovis-bgdc/bloc-1/C1/extra",
        "https://elsewhere.example/referentiels/diplovis-bgdc/bloc-1/C1",
        f"{BASE}/referentiels//bloc-1/C1",
    ]:
        assert competency_by_iri(session, iri, BASE) is None, iri
