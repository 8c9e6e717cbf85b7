"""The roots an MCP client announces, on both generations of the protocol.

Handshake-era connections answer a `roots/list` request over the back-channel. 2026-07-28
connections have none: the tool returns an `InputRequiredResult` asking for the roots and the
client calls it again with the answer (SEP-2322). We ask only when a path lies outside the
configured roots, so ordinary calls cost no extra round trip.
"""

from __future__ import annotations

import anyio
from fastmcp import Context
from mcp_types import InputRequiredResult, ListRootsRequest, ListRootsResult

__all__ = ["LIST_TIMEOUT_S", "client_roots", "roots_request"]

LIST_TIMEOUT_S = 2.0
_KEY = "roots"


async def client_roots(ctx: Context) -> tuple[str, ...] | None:
    """The client's root URIs; () when it has none to give, None when it must be asked."""
    answers = ctx.input_responses or {}
    answered = answers.get(_KEY)
    if isinstance(answered, ListRootsResult):
        return tuple(str(root.uri) for root in answered.roots)
    try:
        session = ctx.session
        capabilities = session.client_capabilities
    except RuntimeError:  # no MCP request: library use
        return ()
    if capabilities is None or capabilities.roots is None or answered is not None:
        return ()
    if not session.can_send_request:
        return None
    try:
        with anyio.fail_after(LIST_TIMEOUT_S):
            listed = await session.list_roots()
    except Exception:  # the client failed to answer: the configured roots stand
        return ()
    return tuple(str(root.uri) for root in listed.roots)


def roots_request() -> InputRequiredResult:
    """Ask the client for its roots; it calls the tool again with them."""
    return InputRequiredResult(input_requests={_KEY: ListRootsRequest()})
