"""IRIs of the référentiel and the way back from an IRI to its row.

An IRI is ``{BASE}/referentiels/{framework}`` for a framework, ``.../{bloc}`` for a
bloc and ``.../{bloc}/{code}`` for a competency, for example
``https://tool.example/referentiels/diplovis-bgdc/bloc-1/C1``. These are the activity
ids that xAPI statements name; the web layer serves a page or JSON at each.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote, unquote

from sqlalchemy import select
from sqlalchemy.orm import Session

from referentiel.models import Bloc, Competency, Framework

PREFIX = "/referentiels"


def framework_iri(base_url: str, framework: Framework) -> str:
    return f"{base_url.rstrip('/')}{PREFIX}/{quote(framework.key)}"


def bloc_iri(base_url: str, bloc: Bloc) -> str:
    return f"{framework_iri(base_url, bloc.framework)}/{quote(bloc.key)}"


def competency_iri(base_url: str, competency: Competency) -> str:
    return f"{bloc_iri(base_url, competency.bloc)}/{quote(competency.code)}"


def iri_parts(iri: str, base_url: str) -> list[str] | None:
    """The path segments after ``{BASE}/referentiels/``, or None for a foreign IRI.

    Tolerant to one trailing slash; segments are percent-decoded.
    """
    prefix = f"{base_url.rstrip('/')}{PREFIX}/"
    if not iri.startswith(prefix):
        return None
    rest = iri[len(prefix) :].split("?", 1)[0].split("#", 1)[0]
    if rest.endswith("/"):
        rest = rest[:-1]
    parts = [unquote(part) for part in rest.split("/")]
    if not parts or any(not part for part in parts):
        return None
    return parts


def competency_by_iri(session: Session, iri: str, base_url: str) -> Competency | None:
    """The competency an IRI names, or None when it names none.

    A retired competency is still returned (its ``retired_at`` is set): statements
    and evidence recorded before a revision keep resolving.
    """
    parts = iri_parts(iri, base_url)
    if parts is None or len(parts) != 3:
        return None
    framework_key, bloc_key, code = parts
    return session.scalars(
        select(Competency)
        .join(Competency.bloc)
        .join(Bloc.framework)
        .where(Framework.key == framework_key, Bloc.key == bloc_key, Competency.code == code)
    ).one_or_none()


def competency_ids_by_iri(session: Session, iris: Iterable[str], base_url: str) -> dict[str, int]:
    """The id of every competency named by one of ``iris``, keyed by the IRI as given, in
    one query (evidence derivation looks up a whole batch of statements at once)."""
    wanted: dict[tuple[str, str, str], list[str]] = {}
    for iri in set(iris):
        parts = iri_parts(iri, base_url)
        if parts is not None and len(parts) == 3:
            wanted.setdefault((parts[0], parts[1], parts[2]), []).append(iri)
    if not wanted:
        return {}
    # Three short IN lists (few frameworks, blocs and codes) rather than a tuple IN:
    # the SQL text stays nearly constant; the exact triples are checked below.
    rows = session.execute(
        select(Framework.key, Bloc.key, Competency.code, Competency.id)
        .join(Competency.bloc)
        .join(Bloc.framework)
        .where(
            Framework.key.in_(sorted({f for f, _, _ in wanted})),
            Bloc.key.in_(sorted({b for _, b, _ in wanted})),
            Competency.code.in_(sorted({c for _, _, c in wanted})),
        )
    )
    found: dict[str, int] = {}
    for framework_key, bloc_key, code, competency_id in rows:
        for iri in wanted.get((framework_key, bloc_key, code), []):
            found[iri] = competency_id
    return found


def framework_by_key(session: Session, key: str) -> Framework | None:
    return session.scalars(select(Framework).where(Framework.key == key)).one_or_none()


def bloc_by_keys(session: Session, framework_key: str, bloc_key: str) -> Bloc | None:
    return session.scalars(
        select(Bloc)
        .join(Bloc.framework)
        .where(Framework.key == framework_key, Bloc.key == bloc_key)
    ).one_or_none()


def competency_by_keys(
    session: Session, framework_key: str, bloc_key: str, code: str
) -> Competency | None:
    return session.scalars(
        select(Competency)
        .join(Competency.bloc)
        .join(Bloc.framework)
        .where(Framework.key == framework_key, Bloc.key == bloc_key, Competency.code == code)
    ).one_or_none()
