"""Moodle's competency framework CSV (admin tool "Import competency framework").

The format is what ``admin/tool/lpimportcsv`` reads (``framework_importer.php``) and
writes (``framework_exporter.php``): fourteen columns matched by position after a
header row; one row with "Is framework" set for the framework itself (its scale
values and scale configuration, its taxonomy), then one row per competency naming
its parent by ID number. Moodle cuts ID numbers and short names at 100 characters,
so full texts go in the HTML description.

Mapping: the framework row carries the référentiel; each bloc is a top-level
competency; each competency is a child of its bloc. Activities, evaluation
modalities and criteria are written into the bloc's HTML description (and the
competency's activity into the competency's description), with ``class`` and
``data-*`` attributes that let :func:`read_csv_text` read them back exactly.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html import escape as _escape
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
    unstorable_character,
)
from referentiel.exceptions import InvalidReferentiel, ReferentielNotFound

# Column titles of Moodle's English language pack (tool_lpimportcsv), in their order.
HEADER = [
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
MAX_IDNUMBER = 100  # competency.idnumber and shortname are cut at 100 by Moodle
FORMAT_HTML = "1"

# Achievement scale: Moodle needs at least one default and one proficient value.
SCALE = ("Non acquis", "En cours", "Acquis", "Validé")
SCALE_DEFAULT = "Non acquis"
SCALE_PROFICIENT = ("Acquis", "Validé")
# Taxonomy: one term per level (framework > bloc > competency), from Moodle's list.
TAXONOMY = "domain,competency"


def scale_configuration() -> str:
    """Moodle's scale configuration JSON: the scale id (replaced on import), then per item
    its 1-based id and whether it is the default and a proficient value."""
    items: list[dict[str, Any]] = [{"scaleid": "0"}]
    for index, name in enumerate(SCALE, start=1):
        items.append(
            {
                "id": index,
                "scaledefault": int(name == SCALE_DEFAULT),
                "proficient": int(name in SCALE_PROFICIENT),
            }
        )
    return json.dumps(items, separators=(",", ":"))


def framework_idnumber(doc: FrameworkDocument) -> str:
    return doc.key.upper()


def bloc_idnumber(doc: FrameworkDocument, bloc: BlocDocument) -> str:
    match = re.fullmatch(r"bloc-(\d+[a-z]?)", bloc.key)
    suffix = f"B{match.group(1)}" if match else bloc.key
    return f"{framework_idnumber(doc)}-{suffix.upper()}"


def competency_idnumber(doc: FrameworkDocument, bloc: BlocDocument, code: str) -> str:
    return f"{bloc_idnumber(doc, bloc)}-{code}"


def bloc_label(bloc: BlocDocument) -> str:
    return f"Bloc {bloc.key.removeprefix('bloc-')}" if bloc.key.startswith("bloc-") else bloc.key


def escape(text: str) -> str:
    """Text content for HTML: only &, < and > need it (attributes use _attrs)."""
    return _escape(text, quote=False)


def _cut(text: str, limit: int = MAX_IDNUMBER) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _attrs(**values: str | None) -> str:
    return "".join(
        f' data-{name.replace("_", "-")}="{_escape(value, quote=True)}"'
        for name, value in values.items()
        if value is not None
    )


def framework_description(doc: FrameworkDocument) -> str:
    parts = [f'<p class="referentiel-title">{escape(doc.title)}</p>']
    if doc.description:
        parts.append(f'<p class="referentiel-description">{escape(doc.description)}</p>')
    if doc.jury:
        parts.append(f'<p class="referentiel-jury">{escape(doc.jury)}</p>')
    meta = _attrs(
        key=doc.key,
        version=doc.version,
        language=doc.language,
        abbreviation=doc.abbreviation,
        rncp=doc.rncp_code,
        source=doc.source or None,
    )
    parts.append(f'<p class="referentiel-meta"{meta}>Version {escape(doc.version)}</p>')
    return "".join(parts)


def bloc_shortname(bloc: BlocDocument) -> str:
    return _cut(f"{bloc_label(bloc)} : {bloc.title}")


def bloc_description(bloc: BlocDocument) -> str:
    parts = []
    if bloc_shortname(bloc).endswith("…"):  # Moodle's short name cannot hold it all
        parts.append(f'<p class="bloc-title">{escape(bloc.title)}</p>')
    if bloc.description:
        parts.append(f'<p class="bloc-description">{escape(bloc.description)}</p>')
    meta = _attrs(
        key=bloc.key,
        number=str(bloc.number),
        optional="1" if bloc.optional else "0",
        option_group=bloc.option_group,
    )
    note = f"Bloc {bloc.number}"
    if bloc.optional:
        note = f"Bloc optionnel {bloc.number} (au choix, groupe {escape(bloc.option_group or '')})"
    parts.append(f'<p class="bloc-meta"{meta}>{note}</p>')
    if bloc.activities:
        items = "".join(
            f"<li{_attrs(key=a.key, number=str(a.number))}>Activité {a.number} : "
            f'<span class="activity-title">{escape(a.title)}</span></li>'
            for a in bloc.activities
        )
        parts.append(f'<h3>Activités</h3><ul class="bloc-activities">{items}</ul>')
    if bloc.modalities:
        paragraphs = "".join(f"<p>{escape(m)}</p>" for m in bloc.modalities)
        parts.append(
            f'<h3>Modalités d’évaluation</h3><div class="bloc-modalities">{paragraphs}</div>'
        )
    if bloc.criteria:
        items = "".join(
            f"<li{_attrs(key=c.key, competencies=' '.join(c.competencies) or None)}>"
            f'{escape(c.key)} : <span class="criterion-text">{escape(c.text)}</span></li>'
            for c in bloc.criteria
        )
        parts.append(f'<h3>Critères d’évaluation</h3><ul class="bloc-criteria">{items}</ul>')
    if bloc.competency_list_raw:
        parts.append(
            '<h3>Liste des compétences (source)</h3><pre class="bloc-competency-list-raw">'
            f"{escape(bloc.competency_list_raw)}</pre>"
        )
    return "".join(parts)


def competency_description(bloc: BlocDocument, competency: CompetencyDocument) -> str:
    html = f'<p class="competency-text"{_attrs(code=competency.code)}>{escape(competency.text)}</p>'
    activity = next((a for a in bloc.activities if a.key == competency.activity), None)
    if activity is not None:
        html += (
            f'<p class="competency-activity"{_attrs(activity=activity.key)}>'
            f"Activité {activity.number} : {escape(activity.title)}</p>"
        )
    return html


def write_csv(doc: FrameworkDocument) -> str:
    """The CSV text (UTF-8 when encoded; no BOM, comma-separated, as Moodle exports)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    framework_id = framework_idnumber(doc)
    writer.writerow(
        [
            "",
            framework_id,
            _cut(doc.title),
            framework_description(doc),
            FORMAT_HTML,
            ",".join(SCALE),
            scale_configuration(),
            "",
            "",
            "",
            "",
            "",
            "1",
            TAXONOMY,
        ]
    )
    for bloc in doc.blocs:
        bloc_id = bloc_idnumber(doc, bloc)
        writer.writerow(
            _competency_row(
                parent="",
                idnumber=bloc_id,
                shortname=bloc_shortname(bloc),
                description=bloc_description(bloc),
            )
        )
        for competency in bloc.competencies:
            idnumber = competency_idnumber(doc, bloc, competency.code)
            if len(idnumber) > MAX_IDNUMBER:
                raise InvalidReferentiel(
                    f"ID number {idnumber!r} is longer than Moodle's {MAX_IDNUMBER} characters"
                )
            writer.writerow(
                _competency_row(
                    parent=bloc_id,
                    idnumber=idnumber,
                    shortname=_cut(f"{competency.code} : {competency.text}"),
                    description=competency_description(bloc, competency),
                )
            )
    return buffer.getvalue()


def _competency_row(*, parent: str, idnumber: str, shortname: str, description: str) -> list[str]:
    # Blank scale: a competency uses its framework's scale. No rule, no cross-reference.
    return [
        parent,
        idnumber,
        shortname,
        description,
        FORMAT_HTML,
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "0",
        "",
    ]


# --- Reading --------------------------------------------------------------------------


class _Row:
    def __init__(self, line: int, cells: list[str]) -> None:
        self.line = line
        padded = cells + [""] * (len(HEADER) - len(cells))
        self.parent = padded[0].strip()
        self.idnumber = padded[1].strip()
        self.shortname = padded[2].strip()
        self.description = padded[3]
        self.is_framework = padded[12].strip() not in ("", "0", "false")


def read_csv_file(path: Path) -> FrameworkDocument:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReferentielNotFound(f"{path}: no such file") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InvalidReferentiel(f"{path}: line {line}: not UTF-8 text") from None
    return read_csv_text(text, source=str(path))


def read_csv_text(text: str, *, source: str) -> FrameworkDocument:
    """Read a Moodle competency framework CSV as a two-level référentiel.

    One clear error naming the line for anything Moodle would refuse or silently drop.
    """
    text = text.removeprefix("\ufeff")
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[_Row] = []
    line = 1
    try:
        header = next(reader, None)
        if header is None:
            raise InvalidReferentiel(f"{source}: empty file")
        if len(header) != len(HEADER):
            raise InvalidReferentiel(
                f"{source}: line 1: expected Moodle's {len(HEADER)} columns "
                f"({', '.join(HEADER[:3])}, ...), found {len(header)}"
            )
        line = reader.line_num + 1
        for cells in reader:
            if any(cell.strip() for cell in cells):
                if len(cells) > len(HEADER):
                    raise InvalidReferentiel(
                        f"{source}: line {line}: {len(cells)} columns, expected {len(HEADER)}"
                    )
                _refuse_unstorable(cells, f"{source}: line {line}")
                rows.append(_Row(line, cells))
            line = reader.line_num + 1
    except csv.Error as error:
        raise InvalidReferentiel(f"{source}: line {line}: {error}") from None
    return _document(rows, source)


def _refuse_unstorable(cells: list[str], where: str) -> None:
    # Checked in the cells: the HTML parser would drop a description holding them.
    for title, cell in zip(HEADER, cells, strict=False):
        reason = unstorable_character(cell)
        if reason is not None:
            raise InvalidReferentiel(f"{where}: {title} {reason}")


def _document(rows: list[_Row], source: str) -> FrameworkDocument:
    frameworks = [r for r in rows if r.is_framework]
    if len(frameworks) != 1:
        where = ", ".join(str(r.line) for r in frameworks) or "none"
        raise InvalidReferentiel(
            f"{source}: exactly one row must have 'Is framework' set (found: {where})"
        )
    framework_row = frameworks[0]
    by_id: dict[str, _Row] = {}
    for row in rows:
        if not row.idnumber or not row.shortname:
            missing = "ID number" if not row.idnumber else "Short name"
            raise InvalidReferentiel(f"{source}: line {row.line}: {missing} is empty")
        if row.idnumber in by_id:
            raise InvalidReferentiel(
                f"{source}: line {row.line}: ID number {row.idnumber!r} already used on line "
                f"{by_id[row.idnumber].line}"
            )
        by_id[row.idnumber] = row
    competencies = [r for r in rows if not r.is_framework]
    blocs = [r for r in competencies if not r.parent]
    children: dict[str, list[_Row]] = {b.idnumber: [] for b in blocs}
    for row in competencies:
        if not row.parent:
            continue
        if row.parent not in by_id or by_id[row.parent].is_framework:
            raise InvalidReferentiel(
                f"{source}: line {row.line}: parent ID number {row.parent!r} is not a "
                "competency of this file"
            )
        if row.parent not in children:
            raise InvalidReferentiel(
                f"{source}: line {row.line}: {row.idnumber!r} is nested deeper than "
                "bloc > competency, which this tool does not model"
            )
        children[row.parent].append(row)
    if not blocs:
        raise InvalidReferentiel(f"{source}: no competency under the framework")

    data = _framework_data(framework_row)
    lines: dict[tuple[int, ...], int] = {}
    for i, bloc_row in enumerate(blocs):
        lines[(i,)] = bloc_row.line
        bloc = _bloc_data(bloc_row, data["id"], f"{source}: line {bloc_row.line}")
        for j, child in enumerate(children[bloc_row.idnumber]):
            lines[(i, j)] = child.line
            bloc["competencies"].append(_competency_data(child, bloc_row.idnumber))
        data["blocs"].append(bloc)
    problem = data_file.first_problem(data)
    if problem is not None:
        raise InvalidReferentiel(f"{source}: line {_line_of(problem, lines)}: {problem}")
    return data_file.document_from_data(data)


def _line_of(problem: str, lines: dict[tuple[int, ...], int]) -> int:
    match = re.match(r"\$\.blocs\[(\d+)\](?:\.competencies\[(\d+)\])?", problem)
    if match is None:
        return 2
    key = tuple(int(g) for g in match.groups() if g is not None)
    return lines.get(key, 2)


def _fragment(html: str) -> Any:
    if not html.strip():
        return lxml.html.fragment_fromstring("<div></div>")
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return lxml.html.fragment_fromstring("<div></div>")


def _first(root: Any, css_class: str) -> Any | None:
    found = root.xpath(f'.//*[contains(concat(" ", @class, " "), " {css_class} ")]')
    return found[0] if found else None


def _text(element: Any) -> str:
    return str(element.text_content()) if element is not None else ""


def _plain(html: str) -> str:
    return " ".join(_text(_fragment(html)).split())


def _slug(idnumber: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", idnumber.lower()).strip("-")[:50] or "referentiel"


def _framework_data(row: _Row) -> dict[str, Any]:
    root = _fragment(row.description)
    meta = _first(root, "referentiel-meta")
    title = _first(root, "referentiel-title")
    if meta is None:  # a framework written by Moodle or another tool
        return {
            "format": "lti-tool-referentiel",
            "format_version": 1,
            "id": _slug(row.idnumber),
            "version": "1",
            "title": row.shortname,
            "description": _plain(row.description),
            "blocs": [],
        }
    data: dict[str, Any] = {
        "format": "lti-tool-referentiel",
        "format_version": 1,
        "id": meta.get("data-key") or _slug(row.idnumber),
        "version": meta.get("data-version") or "1",
        "language": meta.get("data-language") or "fr",
        "title": _text(title) if title is not None else row.shortname,
        "abbreviation": meta.get("data-abbreviation"),
        "description": _text(_first(root, "referentiel-description")),
        "source": meta.get("data-source") or "",
        "jury": _text(_first(root, "referentiel-jury")),
    }
    if meta.get("data-rncp"):
        data["rncp_code"] = meta.get("data-rncp")
    data["blocs"] = []
    return data


def _number(text: str | None, where: str, what: str) -> int:
    """A bloc or activity number read from the CSV; 0 when there is none."""
    if not text:
        return 0
    number = parse_number(text)
    if number is None:
        raise InvalidReferentiel(
            f"{where}: {what} is {text!r}, not a number from 0 to {MAX_NUMBER}"
        )
    return number


def _bloc_data(row: _Row, framework_key: str, where: str) -> dict[str, Any]:
    root = _fragment(row.description)
    meta = _first(root, "bloc-meta")
    if meta is None:
        prefix = framework_key.upper() + "-"
        key = _slug(row.idnumber.removeprefix(prefix))
        number_match = re.search(r"[0-9]+", key)
        return {
            "key": key,
            "number": _number(
                number_match.group() if number_match else None,
                where,
                f"the bloc number in ID number {row.idnumber!r}",
            ),
            "title": row.shortname,
            "description": _plain(row.description),
            "competencies": [],
        }
    full_title = _first(root, "bloc-title")
    label_match = re.match(r"[^:]*: (.*)", row.shortname)
    activities = _first(root, "bloc-activities")
    modalities = _first(root, "bloc-modalities")
    criteria = _first(root, "bloc-criteria")
    raw = _first(root, "bloc-competency-list-raw")
    bloc: dict[str, Any] = {
        "key": meta.get("data-key"),
        "number": _number(meta.get("data-number"), where, "bloc number (data-number)"),
        "title": _text(full_title)
        if full_title is not None
        else (label_match.group(1) if label_match else row.shortname),
        "description": _text(_first(root, "bloc-description")),
        "optional": meta.get("data-optional") == "1",
        "option_group": meta.get("data-option-group"),
        "activities": [
            {
                "key": li.get("data-key"),
                "number": _number(li.get("data-number"), where, "activity number (data-number)"),
                "title": _text(_first(li, "activity-title")),
            }
            for li in (activities.findall("li") if activities is not None else [])
        ],
        "competencies": [],
        "evaluation": {
            "modalities": [
                _text(p) for p in (modalities.findall("p") if modalities is not None else [])
            ],
            "criteria": [
                {
                    "key": li.get("data-key"),
                    "text": _text(_first(li, "criterion-text")),
                    "competencies": (li.get("data-competencies") or "").split(),
                }
                for li in (criteria.findall("li") if criteria is not None else [])
            ],
        },
    }
    if raw is not None:
        bloc["competency_list_raw"] = _text(raw)
    return bloc


def _competency_data(row: _Row, bloc_idnumber: str) -> dict[str, Any]:
    root = _fragment(row.description)
    text = _first(root, "competency-text")
    activity = _first(root, "competency-activity")
    code = text.get("data-code") if text is not None else None
    return {
        "code": code or row.idnumber.removeprefix(bloc_idnumber + "-"),
        "activity": activity.get("data-activity") if activity is not None else None,
        "text": _text(text) if text is not None else (_plain(row.description) or row.shortname),
    }
