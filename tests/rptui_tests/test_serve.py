"""`rptui serve`: the app in a browser, refused without its token, driven through the websocket."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from rptui.browser import TOKEN_COOKIE, is_loopback

START_S = 60.0
PALETTE_KEY = "\x10"  # ctrl+p: the command palette
PALETTE_TEXT = "Search for commands"
PICKER_TEXT = "Projects in"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A running `rptui serve`: (its base address, its token)."""
    port = _free_port()
    rptui = [sys.executable, "-m", "rptui.cli", "--workspace", str(tmp_path / "ws")]
    server = subprocess.Popen(
        [*rptui, "--in-process", "serve", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
        assert found, line
        yield found[1], found[2]
    finally:
        server.terminate()
        server.wait(timeout=30)


async def _get(session: aiohttp.ClientSession, url: str) -> int:
    for _ in range(100):  # the server may still be starting
        try:
            async with session.get(url) as response:
                await response.read()
                return response.status
        except aiohttp.ClientConnectorError:
            await asyncio.sleep(0.1)
    raise AssertionError(f"no answer from {url}")


async def _screen_until(socket_: aiohttp.ClientWebSocketResponse, text: str) -> str:
    """What the app wrote to the browser until ``text`` appeared in it."""
    seen = ""
    while text not in seen:
        message = await asyncio.wait_for(socket_.receive(), START_S)
        if message.type == aiohttp.WSMsgType.BINARY:
            seen += message.data.decode(errors="replace")
        elif message.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            raise AssertionError(f"the websocket closed before {text!r}: {seen[-300:]!r}")
    return seen


async def test_the_page_needs_the_token_and_the_app_answers_keys(served: tuple[str, str]) -> None:
    base, token = served
    async with aiohttp.ClientSession() as anonymous:
        assert await _get(anonymous, f"{base}/") == 403
        assert await _get(anonymous, f"{base}/?token=wrong") == 403
        assert await _get(anonymous, f"{base}/static/js/textual.js") == 403
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        assert await _get(browser, f"{base}/?token={token}") == 200
        cookies = {cookie.key: cookie.value for cookie in browser.cookie_jar}
        assert cookies.get(TOKEN_COOKIE) == token
        assert await _get(browser, f"{base}/static/js/textual.js") == 200
        url = f"{base.replace('http', 'ws')}/ws?width=100&height=30"
        with pytest.raises(aiohttp.WSServerHandshakeError):
            await browser.ws_connect(url, origin="http://elsewhere.example")
        async with browser.ws_connect(url) as app:
            await app.send_str(json.dumps(["resize", {"width": 100, "height": 30}]))
            first = await _screen_until(app, PICKER_TEXT)
            assert PALETTE_TEXT not in first
            await app.send_str(json.dumps(["stdin", PALETTE_KEY]))
            await _screen_until(app, PALETTE_TEXT)


def test_only_loopback_without_public(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "rptui.cli",
            "--workspace",
            str(tmp_path),
            "serve",
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "refusing to listen on 0.0.0.0" in done.stderr and "--public" in done.stderr
    assert "Traceback" not in done.stderr


def test_public_listens_on_other_hosts_only_with_a_warning(tmp_path: Path) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [
            *[sys.executable, "-m", "rptui.cli", "--workspace", str(tmp_path / "ws")],
            *["serve", "--host", "0.0.0.0", "--port", str(port), "--public"],
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None and server.stderr is not None
        warning = server.stderr.readline()
        assert warning.startswith("rptui: warning: listening on 0.0.0.0")
        assert "anyone who can reach it" in warning
        address = server.stdout.readline()
        assert re.search(rf":{port}/\?token=\S{{20,}}", address), address
    finally:
        server.terminate()
        server.wait(timeout=30)
