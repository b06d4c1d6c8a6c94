"""Open the rendered report in headless Chromium: no console errors, images load, links resolve.

Where Quarto is available the rendered website is opened, otherwise the HTML previews
(both built in a temporary project from the fixtures). The DevTools protocol (websocket)
collects console errors, failed requests and broken images; a screenshot of the index is
saved to ``test-artifacts/index.png``. Without Chromium the test is skipped with its reason.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import websocket

from proeftuin import report
from proeftuin.core import settings
from proeftuin.pipeline.facts import read_facts
from test_report import copy_report_sources

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,900",
]
BROKEN_IMAGES_JS = (
    "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0)"
    ".map(i => i.currentSrc || i.src)"
)
LINKS_JS = "Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"
SCORECARD_JS = (
    "Array.from(document.images).filter(i => i.alt.includes('Triple Aim scorecard'))"
    ".map(i => ({alt: i.alt, width: i.naturalWidth}))"
)


def find_chromium() -> str | None:
    for name in ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # the browser cancelling a request is not a test failure


@pytest.fixture
def serve() -> Iterator[Any]:
    """Serve a folder on 127.0.0.1; yields a function folder -> base URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(folder: Path) -> str:
        handler = partial(_QuietHandler, directory=str(folder))
        server = _QuietServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


class Browser:
    """Headless Chromium driven over the DevTools protocol."""

    def __init__(self, binary: str, profile: Path) -> None:
        self.process = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = self._port(profile / "DevToolsActivePort")
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=20)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def _port(self, marker: Path) -> int:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().splitlines()[0])
            if self.process.poll() is not None:
                raise RuntimeError("chromium exited before opening its DevTools port")
            time.sleep(0.1)
        raise RuntimeError("chromium did not open its DevTools port")

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def open(self, url: str) -> list[str]:
        """Navigate, wait for the load event and a quiet moment; the page's errors."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        deadline = time.monotonic() + 20
        while not any(e.get("method") == "Page.loadEventFired" for e in self.events):
            if time.monotonic() > deadline:
                return [f"{url}: load event not fired within 20 s"]
            self.events.append(json.loads(self.ws.recv()))
        self.evaluate("new Promise(r => setTimeout(r, 300))")
        return [f"{url}: {e}" for e in page_errors(self.events)]

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        return result.get("result", {}).get("value")

    def screenshot(self, target: Path) -> None:
        data = self.call("Page.captureScreenshot", format="png")["data"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self.ws.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def page_errors(events: list[dict[str, Any]]) -> list[str]:
    """Console errors, uncaught exceptions, error log entries and failed requests."""
    errors = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            args = params.get("args", [])
            errors.append("console: " + " ".join(str(a.get("value", "")) for a in args))
        elif method == "Runtime.exceptionThrown":
            errors.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            entry = params["entry"]
            errors.append(f"log: {entry.get('text')} {entry.get('url', '')}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            errors.append(f"request failed: {params.get('errorText')}")
    return errors


def link_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def assert_scorecard_shown(images: list[dict[str, Any]]) -> None:
    """The overview's scorecard figure loaded, its alt text naming every site and outcome of
    the facts snapshot by name (not by id)."""
    snapshot = read_facts()
    [image] = images
    assert image["width"] > 0
    for site in snapshot.sites:
        assert site.name in image["alt"] and site.id not in image["alt"]
    for outcome in snapshot.outcomes:
        assert outcome.label in image["alt"]


@pytest.fixture
def built_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str]:
    """Build the report in a temporary project: the folder to serve and its index page."""
    root = tmp_path / "project"
    root.mkdir()
    copy_report_sources(root)
    monkeypatch.setenv(settings.ROOT_ENV, str(root))
    outcome = report.build_report(require_quarto=False)
    if outcome.rendered:
        assert outcome.site_dir is not None
        return outcome.site_dir, "index.html"
    assert outcome.previews_index is not None
    return outcome.previews_index.parent, "index.html"


def test_rendered_report_in_headless_chromium(
    built_report: tuple[Path, str], serve: Any, tmp_path: Path
) -> None:
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium found (/usr/bin/chromium or `chromium` on PATH)")
    folder, index = built_report
    base = serve(folder)
    browser = Browser(binary, tmp_path / "chromium-profile")
    try:
        errors = browser.open(base + index)
        browser.screenshot(ARTIFACTS / "index.png")
        scorecards = browser.evaluate(SCORECARD_JS) or []
        pages = {base + index}
        links = browser.evaluate(LINKS_JS) or []
        local = sorted({urldefrag(link)[0] for link in links if link.startswith(base)})
        assert local, "the index links to nothing"
        broken_links = [link for link in local if link_status(link) != 200]
        pages |= {link for link in local if urlparse(link).path.endswith((".html", "/"))}
        broken_images = []
        for page in sorted(pages):
            errors += browser.open(page)
            broken_images += [f"{page}: {src}" for src in browser.evaluate(BROKEN_IMAGES_JS)]
            for link in browser.evaluate(LINKS_JS) or []:
                target = urldefrag(urljoin(page, link))[0]
                if target.startswith(base) and link_status(target) != 200:
                    broken_links.append(f"{page} -> {target}")
    finally:
        browser.close()
    assert errors == []
    assert broken_images == []
    assert_scorecard_shown(scorecards)
    assert broken_links == []
    assert (ARTIFACTS / "index.png").stat().st_size > 1000
