"""The app in a web browser: textual-serve behind a random token, on this machine by default.

Every request needs the token: in the address (``?token=...``) the first time, then in a
cookie the page keeps (the page's scripts, styles and websocket carry it). Without it the
answer is 403. The websocket must come from the page itself (its ``Origin`` is this
server), and the page builds its addresses from the one the browser used, so an SSH
tunnel on any local port works.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.server import Server

log = logging.getLogger(__name__)

TOKEN_PARAMETER = "token"
TOKEN_COOKIE = "rptui_token"
DEFAULT_FONT_SIZE = 16
LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Only this machine can reach ``host`` (127.0.0.0/8, ::1 or localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    """A random token for one run of the server."""
    return secrets.token_urlsafe(24)


class TokenServer(Server):
    """textual-serve's server, refusing every request that lacks the token.

    Args:
        command: the shell command that runs the app (one process per browser tab).
        host: the address to listen on.
        port: the port.
        token: the access token (see :func:`new_token`).
        title: the page's title.
    """

    def __init__(self, command: str, *, host: str, port: int, token: str, title: str) -> None:
        super().__init__(command, host=host, port=port, title=title)
        self.token = token

    @property
    def url(self) -> str:
        """The address to open, token included."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/?{TOKEN_PARAMETER}={self.token}"

    def initialize_logging(self) -> None:
        """Warnings only: no line per request."""
        logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        """Say nothing here: the command prints the address."""

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._check_token)
        return app

    def _has_token(self, request: web.Request) -> bool:
        given = request.query.get(TOKEN_PARAMETER) or request.cookies.get(TOKEN_COOKIE) or ""
        return secrets.compare_digest(given.encode(), self.token.encode())

    @web.middleware
    async def _check_token(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if not self._has_token(request):
            raise web.HTTPForbidden(text="rptui: the address needs its token (?token=...)\n")
        origin = request.headers.get("Origin")
        if origin is not None and origin.split("://", 1)[-1] != request.host:
            raise web.HTTPForbidden(text="rptui: not from this page\n")
        response: web.StreamResponse = await handler(request)
        if request.query.get(TOKEN_PARAMETER):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="Strict")
        return response

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """The page, its addresses built from the one the browser used (tunnels included)."""
        try:
            font_size = int(request.query.get("fontsize", DEFAULT_FONT_SIZE))
        except ValueError:
            font_size = DEFAULT_FONT_SIZE
        here = f"{request.scheme}://{request.host}"
        sockets = "wss" if request.scheme == "https" else "ws"
        return {
            "font_size": font_size,
            "app_websocket_url": f"{sockets}://{request.host}/ws",
            "config": {"static": {"url": f"{here}/static/"}},
            "application": {"name": self.title},
        }
