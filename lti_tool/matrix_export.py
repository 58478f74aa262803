"""The class matrix as a spreadsheet: CSV (for French spreadsheet users too) and XLSX.

CSV goes through :mod:`lti_tool.spreadsheet_csv` (UTF-8 with BOM, ``;`` on request,
formula-like cells neutralised). In XLSX every text cell is written as a string, so
nothing is ever a formula.
"""

from __future__ import annotations

import io
from typing import Any

from flask_babel import gettext
from openpyxl import Workbook
from openpyxl.styles import Font

from lti_tool.charts import bloc_short
from lti_tool.class_matrix import ClassMatrix
from lti_tool.spreadsheet_csv import csv_text


def matrix_table(matrix: ClassMatrix) -> list[list[Any]]:
    """Header row then one row per learner: name, email, reached, each competency's state."""
    header = [gettext("Learner"), gettext("Email"), gettext("Competencies reached")]
    header += [
        gettext("Bloc %(n)s", n=bloc_short(group.bloc.key)) + f" · {c.code}"
        for group in matrix.groups
        for c in group.competencies
    ]
    rows: list[list[Any]] = [header]
    for row in matrix.rows:
        rows.append(
            [row.learner.display_name, row.learner.email or "", row.reached]
            + [cell.label for cell in row.cells]
        )
    return rows


def to_csv(matrix: ClassMatrix, delimiter: str = ",") -> bytes:
    """Through :mod:`lti_tool.spreadsheet_csv`: BOM, ``;`` option, formulas neutralised."""
    header, *rows = matrix_table(matrix)
    return csv_text(header, rows, delimiter=delimiter).encode("utf-8")


def to_xlsx(matrix: ClassMatrix) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = gettext("Class matrix")[:31]
    for r, row in enumerate(matrix_table(matrix), start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            if isinstance(value, int):
                cell.value = value
            else:
                cell.value = str(value)
                cell.data_type = "s"  # text, never a formula
            if r == 1:
                cell.font = Font(bold=True)
    sheet.freeze_panes = "D2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
