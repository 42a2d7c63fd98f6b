"""Helpers for tests over real HTTP: a live server thread, and headless Chromium.

Context managers, so that each test module makes the fixtures it needs from them
(`with serving(app) as url`, `with chromium() as browser`). Without Chromium at
/usr/bin/chromium (or without Playwright) a browser test is skipped with the
reason, unless HOTLINE_REQUIRE_BROWSER=1 (CI sets it): then it fails, so CI
never passes by quietly skipping the browser.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app served over HTTP from a thread on a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def closed_port_url() -> str:
    """A localhost URL where nothing listens (the port was free a moment ago)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def browser_unavailable(reason: str) -> None:
    if os.environ.get("HOTLINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"HOTLINE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def chromium() -> Iterator:
    """Headless Chromium through Playwright (the system's; never `playwright install`)."""
    if not CHROMIUM.exists():
        browser_unavailable(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        browser_unavailable("Playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
