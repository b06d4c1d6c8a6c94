"""Checks before rendering: embeds whose notebook or cell is missing, includes not found,
cross-references that do not resolve, and region pages missing for the plan."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from proeftuin.report import paths
from proeftuin.report.notebooks import notebook_labels

EMBED_RE = re.compile(r"\{\{<\s*embed\s+([^#\s>]+)#([^\s>]+)(?:\s[^>]*)?>\}\}")
INCLUDE_RE = re.compile(r"\{\{<\s*include\s+([^\s>]+)\s*>\}\}")
LABEL_DEF_RE = re.compile(r"\{#((?:fig|tbl|sec|eq)-[\w-]+)")
XREF_RE = re.compile(r"(?<![\w@])@((?:fig|tbl|sec|eq)-[\w-]*\w)")
FRONT_MATTER_RE = re.compile(r"^---\n.*?\n---\n", flags=re.DOTALL)


def expand_includes(page: Path, text: str) -> tuple[str, list[str]]:
    """The page text with its includes inlined (one level), and the includes not found."""
    missing: list[str] = []

    def inline(match: re.Match[str]) -> str:
        included = page.parent / match.group(1)
        if included.is_file():
            return included.read_text(encoding="utf-8")
        missing.append(match.group(1))
        return ""

    return INCLUDE_RE.sub(inline, text), missing


def page_problems(page: Path) -> list[str]:
    """Embeds whose target is missing, includes not found, cross-references not defined."""
    text, missing = expand_includes(page, page.read_text(encoding="utf-8"))
    problems = [f"{page.name}: include {target} not found" for target in missing]
    labels = set(LABEL_DEF_RE.findall(text))
    for target, label in EMBED_RE.findall(text):
        found = notebook_labels(page.parent / target)
        labels |= set(found)
        if label not in found:
            problems.append(f"{page.name}: embed {target}#{label} not in an executed notebook")
    body = FRONT_MATTER_RE.sub("", text, count=1)
    for ref in XREF_RE.findall(re.sub(r"`[^`]*`", "", body)):
        if ref not in labels:
            problems.append(f"{page.name}: cross-reference @{ref} does not resolve")
    return problems


def validate_pages(plan: Any, pages: list[Path]) -> list[str]:
    """Every problem that would break the render or leave a dangling reference."""
    problems = [p for page in pages for p in page_problems(page)]
    names = {page.stem for page in pages if page.parent == paths.region_pages_dir()}
    problems += [f"no page for region {r}" for r in plan.regions if r not in names]
    return problems
