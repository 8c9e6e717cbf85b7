"""The roots an MCP client announces, asked for only when a path lies outside the configured ones.

Handshake-era connections answer a `roots/list` request over the back-channel. 2026-07-28
connections have none: the tool returns an `InputRequiredResult` asking for the roots and the
client calls it again with the answer (SEP-2322). Ordinary calls cost no extra round trip.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from fastmcp import Context
from fastmcp.exceptions import ToolError
from mcp_types import InputRequiredResult, ListRootsRequest, ListRootsResult

from stata_tools.safety.roots import OutsideRoots
from stata_tools.stata.session import PathOutsideRoots

__all__ = ["LIST_TIMEOUT_S", "with_client_roots"]

LIST_TIMEOUT_S = 2.0
_KEY = "roots"
T = TypeVar("T")


async def with_client_roots(
    attempt: Callable[[tuple[str, ...]], Awaitable[T]], ctx: Context
) -> T | InputRequiredResult:
    """`attempt(client_root_uris)`; when a path is outside the roots, again with the client's."""
    answered = _answered(ctx)
    try:
        return await attempt(answered or ())
    except (OutsideRoots, PathOutsideRoots) as error:
        refusal: Exception = error
    if answered is None:
        asked = await _ask(ctx)
        if isinstance(asked, InputRequiredResult):
            return asked
        if asked:
            try:
                return await attempt(asked)
            except (OutsideRoots, PathOutsideRoots) as error:
                refusal = error
    raise ToolError(str(refusal))


def _answered(ctx: Context) -> tuple[str, ...] | None:
    """The roots the client sent with this call (the second round of an input request)."""
    answer = (ctx.input_responses or {}).get(_KEY)
    if isinstance(answer, ListRootsResult):
        return tuple(str(root.uri) for root in answer.roots)
    return None


async def _ask(ctx: Context) -> tuple[str, ...] | InputRequiredResult:
    """The roots now (back-channel), an input request (2026-07-28), or () when it has none."""
    try:
        session = ctx.session
        capabilities = session.client_capabilities
    except RuntimeError:  # no MCP request: library use
        return ()
    if capabilities is None or capabilities.roots is None:
        return ()
    if not session.can_send_request:
        return InputRequiredResult(input_requests={_KEY: ListRootsRequest()})
    try:
        with anyio.fail_after(LIST_TIMEOUT_S):
            listed = await session.list_roots()
    except Exception:  # the client failed to answer: the configured roots stand
        return ()
    return tuple(str(root.uri) for root in listed.roots)
