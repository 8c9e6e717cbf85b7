"""Streamable HTTP at /mcp: a bearer token off loopback, Host/Origin checks (DNS rebinding)."""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import hashlib
import hmac
import ipaddress
import os
import secrets
import signal
import socket
import sys
from collections.abc import Mapping
from typing import TextIO

import fastmcp
from fastmcp.server.auth import AccessToken, TokenVerifier
from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import LOGGING_CONFIG

TOKEN_ENV = "STATA_TOOLS_TOKEN"
ALLOWED_HOSTS_ENV = "STATA_TOOLS_ALLOWED_HOSTS"
PATH = "/mcp"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and `localhost`: only this machine can reach such a bind."""
    host = host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    """0.0.0.0, :: (or empty): every interface, so the bind address names no one."""
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    return host == ""


def _authority(host: str, port: int | None = None) -> str:
    """`host[:port]` as a Host header spells it (IPv6 in brackets, lower case)."""
    host = host.strip().strip("[]").lower()
    if ":" in host:
        host = f"[{host}]"
    return host if port is None else f"{host}:{port}"


def _extra_hosts(value: str, port: int) -> list[str]:
    """STATA_TOOLS_ALLOWED_HOSTS entries; one without a port allows it bare and with ours."""
    hosts: list[str] = []
    for raw in value.split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if entry.startswith("["):  # [v6] or [v6]:port
            name, _, rest = entry[1:].partition("]")
            given = rest[1:] if rest.startswith(":") else ""
        elif entry.count(":") == 1:
            name, given = entry.split(":")
        else:  # a name, IPv4, or a bare IPv6 address
            name, given = entry, ""
        if given:
            if not given.isdigit():
                raise ValueError(f"{ALLOWED_HOSTS_ENV}: {raw.strip()!r} is not host[:port]")
            hosts.append(_authority(name, int(given)))
        else:
            hosts += [_authority(name), _authority(name, port)]
    return hosts


@dataclasses.dataclass(frozen=True)
class HttpSecurity:
    """Who may call the HTTP server: the token (None = open) and the Host/Origin allow-lists."""

    host: str
    port: int
    loopback: bool
    token: str | None
    token_generated: bool
    allowed_hosts: tuple[str, ...]
    allowed_origins: tuple[str, ...]

    @classmethod
    def from_env(cls, host: str, port: int, env: Mapping[str, str] | None = None) -> HttpSecurity:
        """The one place that reads STATA_TOOLS_TOKEN and STATA_TOOLS_ALLOWED_HOSTS."""
        env = os.environ if env is None else env
        loopback = is_loopback(host)
        token = env.get(TOKEN_ENV, "").strip() or None
        generated = token is None and not loopback
        if generated:
            token = secrets.token_urlsafe(32)
        local = [_authority(name, port) for name in ("127.0.0.1", "localhost", "::1")]
        if loopback:
            hosts = [*local, _authority(host, port)]
        elif _is_wildcard(host):  # 0.0.0.0 / ::: loopback names plus this machine's names
            names = (socket.gethostname(), socket.getfqdn())
            hosts = [*local, *(_authority(name, port) for name in names)]
        else:
            hosts = [_authority(host, port)]
        hosts += _extra_hosts(env.get(ALLOWED_HOSTS_ENV, ""), port)
        hosts = list(dict.fromkeys(hosts))
        origins = [f"http://{h}" for h in hosts]
        if not loopback:  # behind a TLS-terminating proxy browsers send https origins
            origins += [f"https://{h}" for h in hosts]
        return cls(host, port, loopback, token, generated, tuple(hosts), tuple(origins))

    def transport_security(self) -> TransportSecuritySettings:
        """The MCP SDK's DNS-rebinding settings: exact Host and Origin values, ports included."""
        return TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(self.allowed_hosts),
            allowed_origins=list(self.allowed_origins),
        )

    def url(self) -> str:
        """The URL to give clients (a wildcard bind is named by this machine's host name)."""
        host = socket.gethostname() if _is_wildcard(self.host) else self.host
        return f"http://{_authority(host, self.port)}{PATH}"


class SharedTokenVerifier(TokenVerifier):
    """The token, or each of several separated by commas, compared in constant time (FastMCP's
    StaticTokenVerifier looks it up). Each token is a client of its own: on MCP 2026-07-28,
    which has no sessions, the token is what keeps one client's sessions and runs apart."""

    def __init__(self, tokens: str) -> None:
        super().__init__()
        self._tokens = [t.strip().encode() for t in tokens.split(",") if t.strip()]

    async def verify_token(self, token: str) -> AccessToken | None:
        given = token.encode()
        matched = [hmac.compare_digest(given, known) for known in self._tokens]  # all compared
        if any(matched):
            client = "stata-tools" if len(self._tokens) == 1 else _client_name(given)
            return AccessToken(token=token, client_id=client, scopes=[])
        return None


def _client_name(token: bytes) -> str:
    """A name for a token's client that does not give the token away."""
    return "token-" + hashlib.sha256(token).hexdigest()[:16]


class HostOriginGuard:
    """The MCP SDK's Host/Origin check as ASGI middleware: FastMCP switches the SDK's own off."""

    def __init__(self, app: ASGIApp, settings: TransportSecuritySettings) -> None:
        self.app = app
        self.check = TransportSecurityMiddleware(settings)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            # 421 for a Host, 403 for an Origin not allowed; Content-Type is left to the transport
            refusal = await self.check.validate_request(Request(scope), is_post=False)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def announce(security: HttpSecurity, err: TextIO, *, shared: bool = False) -> None:
    """Tell the user on stderr (never stdout) how to connect; a generated token appears once."""
    if security.token_generated:
        print(
            f"stata-tools: {security.host} is not loopback, so requests need a bearer token; "
            f"{TOKEN_ENV} is unset, so this one was generated for this run:\n"
            f"  claude mcp add --transport http stata {security.url()} "
            f'-H "Authorization: Bearer {security.token}"\n'
            "stata-tools: other clients send the header Authorization: Bearer <that token>.",
            file=err,
        )
    elif security.token is not None and "," in security.token:
        print(
            f"stata-tools: requests need Authorization: Bearer <one of the tokens in {TOKEN_ENV}>; "
            "each token is a client of its own.",
            file=err,
        )
    elif security.token is not None:
        print(f"stata-tools: requests need Authorization: Bearer ${TOKEN_ENV}.", file=err)
    if not shared and (security.token is None or "," not in security.token):
        print(
            "stata-tools: clients are kept apart by their MCP session (2025-11-25); 2026-07-28 "
            "clients, which have none, by their token, so those sharing one share sessions and "
            "runs, and those with none get session main alone (no other sessions, no background "
            f"runs, no run ids): give each its own ({TOKEN_ENV}=token-a,token-b,…).",
            file=err,
        )
    if not security.loopback:
        print(
            f"stata-tools: accepted Host headers: {', '.join(security.allowed_hosts)} "
            f"(add more with {ALLOWED_HOSTS_ENV}=host[:port],...)",
            file=err,
        )
    err.flush()


def _uvicorn_logging() -> dict[str, object]:
    """uvicorn's own log config with the access log moved from stdout to stderr."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["handlers"]["access"]["stream"] = "ext://sys.stderr"
    return {"log_config": config, "log_level": fastmcp.settings.log_level.lower()}


def run_http(host: str, port: int) -> None:
    """Serve Streamable HTTP at /mcp; SIGTERM runs the lifespan teardown like Ctrl+C."""
    from stata_tools.mcp.server import get_session, mcp

    try:
        security = HttpSecurity.from_env(host, port)
    except ValueError as error:
        print(f"stata-tools: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    announce(security, sys.stderr, shared=get_session().settings.shared_sessions)
    if security.token is not None:
        mcp.auth = SharedTokenVerifier(security.token)  # 401 + WWW-Authenticate: Bearer
    guard = Middleware(HostOriginGuard, settings=security.transport_security())
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with contextlib.suppress(KeyboardInterrupt):
        mcp.run(
            transport="http",
            host=host,
            port=port,
            path=PATH,
            show_banner=False,
            middleware=[guard],
            host_origin_protection=False,  # FastMCP's guard ignores ports; ours is exact
            uvicorn_config=_uvicorn_logging(),
        )
