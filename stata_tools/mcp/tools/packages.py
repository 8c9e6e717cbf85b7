"""Sanctioned installs: one package from SSC or an allowed site, while the policy refuses installs
in code."""

from __future__ import annotations

import asyncio
from typing import Annotated, Literal

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from fastmcp.tools import ToolResult
from mcp_types import TextContent
from pydantic import Field

from stata_tools.mcp.args import SessionArg
from stata_tools.mcp.context import client_of, get_registry, named_session
from stata_tools.mcp.reporting import Reporter
from stata_tools.stata.discovery import PystataShadowed, StataInitError, StataNotFound
from stata_tools.stata.packages import InstallRequest, InstallRequestError
from stata_tools.stata.packages import install_package as install
from stata_tools.stata.session import SessionBusy
from stata_tools.stata.sessions import MAIN
from stata_tools.stata.supervisor import WorkerLost, WorkerStartError


async def install_package(
    name: Annotated[
        str,
        Field(
            description="The package's name alone, e.g. reghdfe or estout (a letter, then "
            "letters, digits or _, at most 32)."
        ),
    ],
    ctx: Context,
    source: Annotated[
        Literal["ssc", "net"],
        Field(description="ssc: the SSC archive. net: the site given in from_url."),
    ] = "ssc",
    from_url: Annotated[
        str | None,
        Field(
            description="source='net' only: the http(s) folder holding NAME.pkg, beneath a "
            "site STATA_TOOLS_INSTALL_SOURCES allows."
        ),
    ] = None,
    replace: Annotated[
        bool,
        Field(description="Overwrite files of an installed version that differ from this one."),
    ] = False,
    session: SessionArg = MAIN,
) -> ToolResult:
    """Install a Stata package (ado-files and help) into the session's PLUS folder, even though
    the command policy refuses `ssc install` in code; says what was installed and where."""
    target = named_session(ctx, session)
    request = InstallRequest(name, source, from_url, replace)
    reporter = Reporter(
        lambda progress, total, message: ctx.report_progress(progress, total, message),
        lambda text: ctx.info(text, logger_name="stata.log"),
    )
    pump = asyncio.create_task(reporter.pump())  # the download can take a while: keep the client
    try:
        report = await install(target, request, reporter.update)
    except InstallRequestError as error:
        raise ToolError(str(error)) from None
    except SessionBusy as error:
        raise ToolError(f"{error} The install reads the session's PLUS folder first.") from None
    except (StataNotFound, StataInitError, PystataShadowed, WorkerStartError) as error:
        raise ToolError(str(error)) from None
    except WorkerLost as error:
        raise ToolError(f"Stata's worker was lost during the install: {error}") from None
    finally:
        await reporter.close()
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            await pump
    get_registry().record_run(report.result.run_id, client_of(ctx), session)
    if not report.ok:
        raise ToolError(report.render())
    return ToolResult(
        content=[TextContent(type="text", text=report.render())], meta=report.to_meta()
    )


TOOLS = (install_package,)
