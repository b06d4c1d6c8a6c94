"""The real render, where one exists (Quarto is not in CI; `proeftuin report` with Quarto
writes ``_site/``): every local link and resource of the website resolves, and no page
loads anything from another host (no Google Fonts, no CDN scripts), so the website works
offline; on a phone (390 px, headless Chromium) no page scrolls sideways. Skipped without a
rendered ``_site/``."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from test_browser import Browser, find_chromium, serve  # noqa: F401 - serve: the fixture

SITE = Path(__file__).resolve().parents[1] / "_site"
LINK = re.compile(r"""<(a|link|script|img|iframe|source)\b[^>]*?\b(href|src)=["']([^"']+)["']""")
CSS_URL = re.compile(r"""@import\s+(?:url\()?["']?(https?:)?//|url\(["']?(https?:)?//""")
pytestmark = pytest.mark.skipif(not (SITE / "reports" / "index.html").is_file(),
                                reason="no rendered _site/ here (needs Quarto)")  # fmt: skip


def local_targets(page: Path) -> list[tuple[str, Path]]:
    """Every local link or resource of a page, with the file it must resolve to."""
    found = []
    for _, _, url in LINK.findall(page.read_text(encoding="utf-8", errors="replace")):
        parts = urlsplit(url)
        if parts.scheme or parts.netloc or not parts.path:  # other hosts, mailto, #anchor
            continue
        target = (page.parent / unquote(parts.path)).resolve()
        found.append((url, target / "index.html" if target.is_dir() else target))
    return found


def test_every_local_link_of_the_site_resolves() -> None:
    pages = sorted(SITE.rglob("*.html"))
    broken = [f"{p.relative_to(SITE)} -> {url}" for p in pages for url, target in
              local_targets(p) if not target.is_file()]  # fmt: skip
    assert len(pages) >= 10 and broken == [], broken
    downloads = [url for p in pages for url, _ in local_targets(p) if url.endswith(".ipynb")]
    assert downloads  # the "Download notebook" links are among them


def test_no_page_loads_anything_from_another_host() -> None:
    external = []
    for page in sorted(SITE.rglob("*.html")):
        for tag, attr, url in LINK.findall(page.read_text(encoding="utf-8", errors="replace")):
            if tag != "a" and (urlsplit(url).netloc or url.startswith("//")):
                external.append(f"{page.relative_to(SITE)}: <{tag} {attr}={url}>")
    for sheet in SITE.rglob("*.css"):
        if CSS_URL.search(sheet.read_text(encoding="utf-8", errors="replace")):
            external.append(f"{sheet.relative_to(SITE)}: a font or sheet from another host")
    assert external == [], external


def test_no_page_calls_the_require_js_it_no_longer_loads() -> None:
    """Quarto's notebook embeds add an inline ``define('jquery', ...)`` for require.js, which
    comes from a CDN: without it the shim throws a ReferenceError on every page."""
    calling = [str(p.relative_to(SITE)) for p in sorted(SITE.rglob("*.html"))
               if "define('jquery'" in p.read_text(encoding="utf-8", errors="replace")]  # fmt: skip
    assert calling == [], calling


def test_no_page_scrolls_sideways_on_a_phone(serve, tmp_path: Path) -> None:  # noqa: F811
    binary = find_chromium()
    if binary is None:
        pytest.skip("no Chromium found (/usr/bin/chromium or `chromium` on PATH)")
    base = serve(SITE)  # the root index.html only forwards (a navigation racing the check)
    pages = sorted(p.relative_to(SITE).as_posix() for p in SITE.rglob("*.html") if p.parent != SITE)
    browser, wide = Browser(binary, tmp_path / "chromium-profile"), []
    try:
        browser.call("Emulation.setDeviceMetricsOverride", width=390, height=800,
                     deviceScaleFactor=1, mobile=True)  # fmt: skip
        for page in pages:
            for attempt in range(2):  # a late script navigation can close the first context
                browser.open(base + page)
                try:
                    width = browser.evaluate("document.documentElement.scrollWidth")
                    break
                except RuntimeError:
                    if attempt:
                        raise
            if width > 392:
                wide.append(f"{page}: {width} px")
    finally:
        browser.close()
    assert len(pages) >= 10 and wide == [], wide
