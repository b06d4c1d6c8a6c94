"""Reading the project's YAML files (the plan, the site registry) within limits: a size
limit before parsing, no aliases or anchors (one alias can expand to gigabytes), no
duplicate keys (the last would silently win), UTF-8 only. Every refusal is one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from proeftuin.core.errors import DataError

MAX_BYTES = 1 << 20  # 1 MiB: the plan and the registry are a few kilobytes


class _Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` refusing aliases and duplicate keys."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.YAMLError(f"line {mark.line + 1}: aliases (*name) are not allowed")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                continue  # unhashable: the base constructor says so
            if key in seen:
                line = key_node.start_mark.line + 1
                raise yaml.YAMLError(f"line {line}: duplicate key {str(key)[:60]!r}")
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: Path, *, max_bytes: int = MAX_BYTES) -> Any:
    """The YAML document at ``path``; :class:`DataError` (one line) when it is missing, too
    large, not UTF-8, not valid YAML, or uses aliases or duplicate keys."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise DataError(f"{path}: {size} bytes, more than the {max_bytes} allowed")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start}): save it as UTF-8") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        what = " ".join(str(getattr(exc, "problem", None) or exc).split())[:200]
        raise DataError(f"{path}: {where}not valid YAML ({what})") from None
