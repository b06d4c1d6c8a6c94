"""Escaping strings from data or configuration (site names, insurers, sources, labels) where
they become text of another language: one helper per target, used everywhere.

* :func:`markdown_text`: Markdown (Quarto pages, notebook Markdown outputs). Quarto renders
  Markdown to HTML and, through Pandoc, to Typst, which escapes text for Typst itself: text
  escaped for Markdown is text in all three. Backslash escapes of ASCII punctuation are
  CommonMark and Pandoc alike; control characters and line breaks become spaces, so a value
  can never start a heading, a list or a new table row.
* :func:`html_text`: HTML text and attribute values (the previews built without Quarto).
"""

from __future__ import annotations

import html
import re

#: Markdown's active characters (emphasis, code, links, raw HTML, tables, math, citations,
#: headings, attributes, entities); each is backslash-escaped.
MARKDOWN_ACTIVE = re.compile(r"([\\`*_{}\[\]<>#|$@~^\"!&])")
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def plain(value: object) -> str:
    """``value`` as one line: control characters and line breaks as single spaces."""
    return " ".join(CONTROL.sub(" ", str(value)).split())


def markdown_text(value: object) -> str:
    """``value`` as literal Markdown text (renders as itself, never as markup)."""
    return MARKDOWN_ACTIVE.sub(r"\\\1", plain(value))


def html_text(value: object) -> str:
    """``value`` as literal HTML text, quotes included (safe in attribute values too)."""
    return html.escape(plain(value), quote=True)
