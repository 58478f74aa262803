"""Parameter types shared by commands, bounded so that a value out of range is a usage
error rather than a database overflow."""

from __future__ import annotations

import click

# A row id: the integer primary keys are 32-bit on PostgreSQL.
ROW_ID = click.IntRange(1, 2**31 - 1)
