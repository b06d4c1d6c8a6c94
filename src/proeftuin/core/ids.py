"""Ids and file names that come from files (registry, plan, manifest, provenance records),
checked against one strict pattern and resolved inside the folder they belong to before
anything is written, read or deleted there.

``ID_PATTERN`` is THE pattern for an id that becomes a folder or a file name: a site id, a
design (notebook template) name, a task folder. ``FILE_PATTERN`` is a plain file name in one
folder (a results file a provenance record lists): no folder part, no leading dot.
"""

from __future__ import annotations

import re
from pathlib import Path

from proeftuin.core.errors import DataError

#: Lower-case letters, digits, ``-`` and ``_``; starts with a letter or digit; 1-64 chars.
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
#: A file name in one folder: letters, digits, ``.``, ``_``, ``+``, ``-``; no leading dot.
FILE_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,199}")
#: Folder names the pipeline keeps for itself beside the sites' folders.
RESERVED_IDS = frozenset({"synthesis", "validation", "subsets"})
SHOWN = 60  # characters of a bad value echoed in a message


def shown(value: object) -> str:
    """A value for a one-line message: repr'd, cut to ``SHOWN`` characters."""
    text = repr(value)
    return text if len(text) <= SHOWN else text[: SHOWN - 3] + "..."


def id_problem(value: object, *, reserved: bool = False) -> str | None:
    """Why ``value`` is not a valid id (``None`` when it is); ``reserved``: also refuse the
    pipeline's own folder names (a site id)."""
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        return (
            f"{shown(value)} is not a valid id (lower-case letters, digits, '-' and '_', "
            "starting with a letter or digit, at most 64 characters)"
        )
    if reserved and value in RESERVED_IDS:
        names = ", ".join(sorted(RESERVED_IDS))
        return f"{value!r} is reserved for the pipeline's own folders ({names})"
    return None


def check_id(value: object, what: str, *, reserved: bool = False) -> str:
    """``value`` when it is a valid id, else a :class:`DataError` naming ``what``."""
    problem = id_problem(value, reserved=reserved)
    if problem:
        raise DataError(f"{what}: {problem}")
    return str(value)


def inside(base: Path, *parts: str) -> Path:
    """``base / parts`` resolved, refused (:class:`DataError`) when it lies outside ``base``."""
    root, path = base.resolve(), base.joinpath(*parts)
    if not path.resolve().is_relative_to(root):
        raise DataError(f"{shown('/'.join(parts))} would lie outside {base}: refused")
    return path


def file_in(base: Path, name: object) -> Path:
    """A plain file name (``FILE_PATTERN``) in ``base``, else a :class:`DataError`."""
    if not isinstance(name, str) or not FILE_PATTERN.fullmatch(name):
        raise DataError(f"{shown(name)} is not a plain file name in {base}: refused")
    return inside(base, name)
