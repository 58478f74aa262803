"""The ``lti-tool`` console command.

Each feature adds its group next to the code it drives; this module only assembles
them and turns failures into one line on stderr and a non-zero exit
(:mod:`lti_tool.cli.failures`).
"""

from __future__ import annotations

import sys
from typing import Any

import click
from flask.cli import ScriptInfo, load_dotenv

from lti_tool import create_app
from lti_tool.cli.database import db_group
from lti_tool.cli.evidence import evidence_group
from lti_tool.cli.failures import DOMAIN_ERRORS, OUTSIDE_ERRORS, describe
from lti_tool.cli.jury import jury_group
from lti_tool.cli.lti import keys_group, platform_group
from lti_tool.cli.progress import progress_command
from lti_tool.cli.referentiel import referentiel_group
from lti_tool.cli.rules import rules_group
from lti_tool.cli.serve import serve_command
from lti_tool.cli.status import status_command
from lti_tool.cli.worker import worker_group
from lti_tool.cli.xapi import xapi_group


class ToolGroup(click.Group):
    """A group whose failures end as one clear line on stderr and exit status 1: the
    domain's errors, and the database, files or network failing beneath a command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            # The reader went away (`lti-tool ... | head`): not a failure to report.
            # Click's main() quiets the closed stdout and exits 1, as Python advises.
            raise
        except (*DOMAIN_ERRORS, *OUTSIDE_ERRORS) as error:
            click.echo(f"Error: {describe(error)}", err=True)
            sys.exit(1)


@click.group(cls=ToolGroup)
@click.pass_context
def main(ctx: click.Context) -> None:
    """LTI 1.3 competency tool: référentiels, xAPI evidence, jury and gradebook sync.

    Configuration comes from LTI_TOOL_* environment variables (or a .env file).
    """
    load_dotenv()
    if ctx.obj is None:  # the test runner passes its own ScriptInfo
        ctx.obj = ScriptInfo(create_app=lambda: create_app(), set_debug_flag=False)


main.add_command(db_group)
main.add_command(serve_command)
main.add_command(referentiel_group)
main.add_command(xapi_group)
main.add_command(evidence_group)
main.add_command(progress_command)
main.add_command(keys_group)
main.add_command(platform_group)
main.add_command(worker_group)
main.add_command(rules_group)
main.add_command(jury_group)
main.add_command(status_command)
