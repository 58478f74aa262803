"""CSV that French spreadsheet users open without surprises, and that cannot run formulas.

UTF-8 with a byte-order mark (Excel otherwise reads it as Windows-1252), an optional
``;`` delimiter (the list separator of a French Excel, which then also expects a
decimal comma), and text cells starting with ``= + - @`` (or a tab or carriage
return) prefixed with an apostrophe so that a spreadsheet shows them as text instead
of evaluating them (OWASP, CSV injection).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from typing import Any

BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def cell_text(value: Any, *, decimal_comma: bool) -> str:
    """Numbers as numbers (never neutralised: we wrote them), text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        text = repr(value) if isinstance(value, float) else str(value)
        return text.replace(".", ",") if decimal_comma else text
    return neutralise(str(value))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]], *, delimiter: str = ",") -> str:
    """The whole file, BOM included, with CRLF line ends (RFC 4180)."""
    if delimiter not in {",", ";"}:
        raise ValueError("the delimiter is ',' or ';'")
    decimal_comma = delimiter == ";"
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow([neutralise(name) for name in header])
    for row in rows:
        writer.writerow([cell_text(value, decimal_comma=decimal_comma) for value in row])
    return BOM + out.getvalue()


def table_csv(table: Sequence[Sequence[Any]], *, delimiter: str = ",") -> bytes:
    """A table whose first row is its header, as a downloadable file (UTF-8)."""
    header, *rows = table
    return csv_text(header, rows, delimiter=delimiter).encode("utf-8")
