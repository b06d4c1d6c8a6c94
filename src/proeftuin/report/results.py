"""Reading the results files: CSV tables, JSON summaries and provenance records."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from proeftuin.report import paths

Rows = list[dict[str, str]]


def read_csv(path: Path) -> Rows:
    """Rows of a results CSV (empty when the file is missing)."""
    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def read_json(path: Path) -> Any:
    """A JSON file's content; ``None`` when missing or unreadable."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


def region_rows(region: str, name: str) -> Rows:
    return read_csv(paths.results_dir(region) / name)


def task_errors(region: str) -> dict[str, str]:
    """Errors of the failed tasks of a region, from ``run_summary.json``."""
    summary = read_json(paths.results_dir() / "run_summary.json")
    tasks = summary.get("tasks", []) if isinstance(summary, dict) else summary or []
    errors = {}
    for entry in tasks:
        name = str(entry.get("task") or entry.get("name") or "")
        name = name or f"{entry.get('region')}/{entry.get('notebook')}"
        if name.startswith(f"{region}/") and entry.get("status") == "failed":
            errors[name.split("/", 1)[1]] = str(entry.get("error") or "failed")
    return errors


def run_summary() -> dict[str, Any]:
    summary = read_json(paths.results_dir() / "run_summary.json")
    return summary if isinstance(summary, dict) else {}


def provenance_records(region: str = "*") -> list[tuple[str, dict[str, Any]]]:
    """``(folder/notebook, record)`` for every provenance record (of one region, or all)."""
    records = []
    for path in sorted(paths.results_dir().glob(f"{region}/*.provenance.json")):
        name = f"{path.parent.name}/{path.name.removesuffix('.provenance.json')}"
        records.append((name, read_json(path) or {}))
    return records


def code_version(value: Any) -> str:
    """``git describe`` output, with uncommitted changes said in words."""
    if isinstance(value, dict):
        text = str(value.get("describe") or value.get("version") or "–")
        dirty = bool(value.get("dirty"))
    else:
        text, dirty = (str(value) if value else "–"), str(value).endswith("-dirty")
    text = text.removesuffix("-dirty")
    return f"`{text}`" + (" (uncommitted changes)" if dirty else "")


def lock_hash(prov: dict[str, Any]) -> str:
    value = prov.get("lock_hash") or (prov.get("key_parts") or {}).get("lock") or "–"
    return f"`{str(value)[:16]}`"


def data_checksums(prov: dict[str, Any]) -> dict[str, str]:
    """Input data checksums recorded for a task."""
    found = prov.get("data_checksums") or (prov.get("key_parts") or {}).get("data") or {}
    return dict(found)
