"""Reading executed notebooks: Quarto cell options, labelled cells and their images."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from proeftuin.report.results import read_json

IMAGE_TYPES = (("image/png", "png"), ("image/svg+xml", "svg"), ("image/jpeg", "jpg"))


def cell_options(cell: dict[str, Any]) -> dict[str, Any]:
    """Quarto cell options (``#| key: value`` lines at the top of a code cell)."""
    source = cell.get("source", "")
    text = "".join(source) if isinstance(source, list) else str(source)
    options: dict[str, Any] = {}
    for line in text.splitlines():
        if not line.startswith("#|"):
            break
        key, _, value = line[2:].partition(":")
        options[key.strip()] = value.strip().strip("\"'")
    return options


def notebook_labels(path: Path) -> dict[str, dict[str, Any]]:
    """Labelled code cells of a notebook: ``{label: cell}`` (empty when unreadable)."""
    data = read_json(path)
    if not isinstance(data, dict):
        return {}
    labelled = {}
    for cell in data.get("cells", []):
        if cell.get("cell_type") == "code":
            label = cell_options(cell).get("label")
            if label:
                labelled[label] = cell
    return labelled


def cell_image(cell: dict[str, Any]) -> tuple[bytes, str] | None:
    """The first image output of a cell as (bytes, extension)."""
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        for mime, ext in IMAGE_TYPES:
            if mime in data:
                payload = data[mime]
                payload = "".join(payload) if isinstance(payload, list) else payload
                if ext == "svg":
                    return payload.encode("utf-8"), ext
                return base64.b64decode(payload), ext
    return None
