"""How the CLI prints a table of records: a JSON array, or CSV for spreadsheets.

Shared by ``lti-tool evidence list`` and ``lti-tool progress``: the same ``--format``
option and the same JSON text (indented, UTF-8 characters kept, one final newline).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

FORMATS = ("json", "csv")


def output_format_option(command: F) -> F:
    """``--format json|csv`` (JSON by default), passed as ``output_format``."""
    return click.option(
        "--format",
        "output_format",
        type=click.Choice(FORMATS),
        default="json",
        show_default=True,
    )(command)


def json_text(records: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(records), ensure_ascii=False, indent=2) + "\n"
