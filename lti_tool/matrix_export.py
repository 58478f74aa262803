"""The class matrix as a spreadsheet: CSV (for French spreadsheet users too) and XLSX.

CSV goes through :mod:`lti_tool.spreadsheet_csv` (UTF-8 with BOM, ``;`` on request,
formula-like cells neutralised), XLSX through :mod:`lti_tool.spreadsheet_xlsx` (every
text cell a string, so nothing is ever a formula).
"""

from __future__ import annotations

from typing import Any

from flask_babel import gettext

from lti_tool.charts import bloc_short
from lti_tool.class_matrix import ClassMatrix
from lti_tool.spreadsheet_csv import table_csv
from lti_tool.spreadsheet_xlsx import xlsx_bytes


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
    return table_csv(matrix_table(matrix), delimiter=delimiter)


def to_xlsx(matrix: ClassMatrix) -> bytes:
    return xlsx_bytes(gettext("Class matrix"), matrix_table(matrix), freeze="D2")
