"""The class matrix as a spreadsheet: CSV (for French spreadsheet users too) and XLSX.

CSV is UTF-8 with a byte-order mark (so Excel reads accents right), comma-separated or,
on request, semicolon-separated (what French Excel expects). Cells that a spreadsheet
would run as a formula (starting with = + - @, a tab or a carriage return) are
neutralised with a leading apostrophe (OWASP "CSV injection"). In XLSX every cell is
written as a string, so nothing is ever a formula.
"""

from __future__ import annotations

import csv
import io

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.styles import Font

from lti_tool.class_matrix import ClassMatrix

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def matrix_table(matrix: ClassMatrix) -> list[list[str]]:
    """Header row then one row per learner: name, email, reached, each competency's state."""
    header = [gettext("Learner"), gettext("Email"), gettext("Competencies reached")]
    header += [
        gettext("Bloc %(n)s", n=group.bloc.number) + f" · {c.code}"
        for group in matrix.groups
        for c in group.competencies
    ]
    rows = [header]
    for row in matrix.rows:
        rows.append(
            [row.learner.display_name, row.learner.email or "", str(row.reached)]
            + [cell.label for cell in row.cells]
        )
    return rows


def to_csv(matrix: ClassMatrix, delimiter: str = ",") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    for row in matrix_table(matrix):
        writer.writerow([neutralise(cell) for cell in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(matrix: ClassMatrix) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = gettext("Class matrix")[:31]
    for r, row in enumerate(matrix_table(matrix), start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            cell.value = value
            cell.data_type = "s"  # text, never a formula
            if r == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "D2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
