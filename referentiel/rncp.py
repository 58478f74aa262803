"""France Compétences' RNCP XML export: a fiche's blocs de compétences as a référentiel.

Shape read (the national export): ``FICHES › FICHE`` with ``NUMERO_FICHE`` (RNCPnnnnn),
``INTITULE``, ``ABREGE{CODE, LIBELLE}`` and ``BLOCS_COMPETENCES › BLOC_COMPETENCES``
with ``CODE`` (RNCPnnnnnBCnn), ``LIBELLE``, ``LISTE_COMPETENCES`` and
``MODALITES_EVALUATION``. The two last are HTML-like free text (escaped HTML, real
child elements, or plain lines with bullets): they are split into competencies and
paragraphs, and the raw competency list is kept beside the split.

The national file is large, so it is streamed with ``iterparse`` and every FICHE is
cleared once read. Entities and DTDs are never resolved and nothing is fetched.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import lxml.html
from lxml import etree

from referentiel import data_file
from referentiel.document import (
    MAX_NUMBER,
    BlocDocument,
    CompetencyDocument,
    FrameworkDocument,
    parse_number,
)
from referentiel.exceptions import InvalidReferentiel, ReferentielNotFound

_BULLET = re.compile(r"^\s*(?:[-–—•·*▪●◦]|\d{1,2}[.)]\s)\s*")
_CODE = re.compile(r"^\s*(C\d{1,3})\s*[:.\-–)]\s*(.*)$", re.S)
_BLOCK_TAGS = {"p", "div", "li", "ul", "ol", "br", "h1", "h2", "h3", "h4", "h5", "h6", "tr"}


def read_rncp_file(path: Path, *, fiche: str | None = None) -> list[FrameworkDocument]:
    """Every fiche of the file (or only ``fiche``), each as a référentiel document.

    Raises InvalidReferentiel naming the line or element of the first problem, before
    anything is written anywhere.
    """
    if fiche is not None and not fiche.strip():
        raise InvalidReferentiel(
            "the fiche number given is empty: name one (RNCPnnnnn), or none for every fiche"
        )
    if not path.is_file():
        raise ReferentielNotFound(f"{path}: no such file")
    wanted = fiche.strip().upper() if fiche is not None else None
    try:
        with path.open("rb") as handle:
            documents = _read_fiches(handle, path, wanted)
    except etree.XMLSyntaxError as error:
        line = error.lineno if error.lineno else "?"
        raise InvalidReferentiel(f"{path}: line {line}: not well-formed XML: {error.msg}") from None
    if wanted is not None and not documents:
        raise ReferentielNotFound(f"{path}: no FICHE with NUMERO_FICHE {wanted}")
    if not documents:
        raise InvalidReferentiel(f"{path}: no <FICHE> element under <FICHES>")
    return documents


def _read_fiches(handle: Any, path: Path, wanted: str | None) -> list[FrameworkDocument]:
    documents: list[FrameworkDocument] = []
    seen_root = False
    events = etree.iterparse(
        handle,
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    for event, element in events:
        if event == "start":
            if not seen_root:
                seen_root = True
                if element.tag != "FICHES":
                    raise InvalidReferentiel(
                        f"{path}: line {element.sourceline}: root element is "
                        f"<{element.tag}>, expected <FICHES>"
                    )
            continue
        if element.tag != "FICHE":
            continue
        number = _child_text(element, "NUMERO_FICHE").upper()
        if wanted is None or number == wanted:
            documents.append(_fiche(element, path))
        # Free what was read: the national file does not fit in memory as a tree.
        element.clear()
        parent = element.getparent()
        while parent is not None and element.getprevious() is not None:
            del parent[0]
    return documents


def _child(element: Any, tag: str) -> Any | None:
    return element.find(tag)


def _child_text(element: Any, tag: str) -> str:
    child = element.find(tag)
    return " ".join("".join(child.itertext()).split()) if child is not None else ""


def _inner_markup(element: Any | None) -> str:
    """The element's content as written: text, escaped HTML or real child elements."""
    if element is None:
        return ""
    parts = [element.text or ""]
    for child in element:
        parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
    return "".join(parts).strip()


def _fiche(element: Any, path: Path) -> FrameworkDocument:
    where = f"{path}: line {element.sourceline}"
    number = _child_text(element, "NUMERO_FICHE").upper()
    if not re.fullmatch(r"RNCP\d{1,6}", number):
        shown = number or "missing"
        raise InvalidReferentiel(f"{where}: <FICHE> has no valid NUMERO_FICHE ({shown})")
    title = _child_text(element, "INTITULE")
    if not title:
        raise InvalidReferentiel(f"{where}: <FICHE> {number} has no INTITULE")
    abrege = _child(element, "ABREGE")
    abbreviation = _child_text(abrege, "CODE") if abrege is not None else ""
    version = next(
        (v for v in (_child_text(element, t) for t in ("DATE_DECISION", "DATE_DERNIER_JO")) if v),
        "1",
    )
    blocs: list[BlocDocument] = []
    keys: dict[str, int] = {}
    container = _child(element, "BLOCS_COMPETENCES")
    for position, bloc_element in enumerate(
        container.findall("BLOC_COMPETENCES") if container is not None else []
    ):
        bloc = _bloc(bloc_element, number, path, position)
        if bloc.key in keys:
            raise InvalidReferentiel(
                f"{path}: line {bloc_element.sourceline}: <BLOC_COMPETENCES> code "
                f"{bloc.key!r} already used on line {keys[bloc.key]}"
            )
        keys[bloc.key] = bloc_element.sourceline
        blocs.append(bloc)
    if not blocs:
        raise InvalidReferentiel(f"{where}: <FICHE> {number} has no <BLOC_COMPETENCES>")
    document = FrameworkDocument(
        key=number.lower(),
        version=version[:40],
        title=title,
        language="fr",
        abbreviation=abbreviation or None,
        description=" ".join(text_lines(_inner_markup(_child(element, "ACTIVITES_VISEES")))),
        source=f"RNCP {number} ({path.name})",
        rncp_code=number,
        blocs=tuple(blocs),
    )
    problem = data_file.first_problem(document.to_data())
    if problem is not None:
        raise InvalidReferentiel(f"{where}: <FICHE> {number}: {problem}")
    return document


def _bloc(element: Any, fiche_number: str, path: Path, position: int) -> BlocDocument:
    where = f"{path}: line {element.sourceline}: <BLOC_COMPETENCES>"
    code = _child_text(element, "CODE").upper()
    if not code:
        raise InvalidReferentiel(f"{where} has no CODE")
    key = code.removeprefix(fiche_number).lower() or code.lower()
    key = re.sub(r"[^a-z0-9-]+", "-", key).strip("-")
    if not key:
        raise InvalidReferentiel(f"{where} code {code!r} gives no usable key")
    title = _child_text(element, "LIBELLE")
    if not title:
        raise InvalidReferentiel(f"{where} {code} has no LIBELLE")
    raw_list = _inner_markup(_child(element, "LISTE_COMPETENCES"))
    return BlocDocument(
        key=key[:50],
        number=_bloc_number(code, where, position),
        title=title,
        competencies=tuple(split_competencies(raw_list)),
        modalities=tuple(text_lines(_inner_markup(_child(element, "MODALITES_EVALUATION")))),
        competency_list_raw=raw_list,
    )


def _bloc_number(code: str, where: str, position: int) -> int:
    """The number ending the bloc's code (RNCP36004BC03: 3), else its place in the fiche."""
    digits = re.search(r"([0-9]+)\s*$", code)
    if digits is None:
        return position + 1
    number = parse_number(digits.group(1))
    if number is None:
        raise InvalidReferentiel(
            f"{where} code {code!r} ends with {digits.group(1)}, not a bloc number "
            f"from 0 to {MAX_NUMBER}"
        )
    return number


def text_lines(markup: str) -> list[str]:
    """The lines of HTML-like free text: one per paragraph, list item or line break."""
    if not markup.strip():
        return []
    try:
        root = lxml.html.fragment_fromstring(markup, create_parent="div") if "<" in markup else None
    except (etree.ParserError, ValueError):
        root = None  # not markup after all ("a < b"): plain lines
    if root is None:
        lines = markup.splitlines()
    else:
        for element in root.iter():
            if not isinstance(element.tag, str):
                continue
            if element.tag in _BLOCK_TAGS:
                element.tail = "\n" + (element.tail or "")
                if element.tag == "li":
                    element.text = "\n" + (element.text or "")
        lines = str(root.text_content()).splitlines()
    return [" ".join(line.split()) for line in lines if line.strip()]


def split_competencies(markup: str) -> list[CompetencyDocument]:
    """Competencies from a LISTE_COMPETENCES text.

    Each paragraph, list item or line is one competency, bullets removed; a leading
    code ("C3 :", "C3.") is kept as the code, otherwise codes run C1, C2, ... in order.
    Introductory lines ending with a colon ("Le candidat est capable de :") are not
    competencies. Continuation lines starting in lower case are joined to the line
    before (a sentence cut by a line break).
    """
    items: list[str] = []
    for line in text_lines(markup):
        line = _BULLET.sub("", line).strip()
        if not line or line.endswith(":"):
            continue
        if items and line[0].islower() and not items[-1].endswith((".", ";")):
            items[-1] = f"{items[-1]} {line}"
            continue
        items.append(line)
    competencies: list[CompetencyDocument] = []
    used: set[str] = set()
    for index, item in enumerate(items, start=1):
        match = _CODE.match(item)
        code, text = (match.group(1), match.group(2).strip()) if match else (f"C{index}", item)
        if code in used or not text:
            code, text = f"C{index}", item
        used.add(code)
        competencies.append(CompetencyDocument(code=code, text=text.rstrip(" ;")))
    return competencies
