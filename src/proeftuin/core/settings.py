"""Project paths and user settings (environment variables), in one place.

Every other module asks this one where things live, so that tests can point the whole
project at a temporary directory by setting ``PROEFTUIN_ROOT``.
"""

from __future__ import annotations

import os
from pathlib import Path

MIRROR_ENV = "PROEFTUIN_DATA_MIRROR"
ROOT_ENV = "PROEFTUIN_ROOT"
#: A study folder (e.g. the placebo study's ``reports/placebo``) holding its own plan,
#: registry, results and executed notebooks: set, the pipeline reads and writes there.
STUDY_ENV = "PROEFTUIN_STUDY"
KERNEL_NAME = "proeftuin"

# The plan's defaults for random draws (analysis.yml `defaults:` may override them); the
# command-line estimators use the same ones, so a result does not depend on the entry point.
DEFAULT_DRAWS = 7600  # Monte Carlo SE of a p-value near 0.05 at most 0.0025
DEFAULT_SEED = 20130701  # the programme's start: 1 July 2013


PATH_SETTINGS = (MIRROR_ENV, ROOT_ENV, STUDY_ENV)


def resolve_environment() -> dict[str, str]:
    """Make the path settings absolute, once, against the caller's working directory.

    Kernels run with the project root as their working directory, so a relative
    ``PROEFTUIN_DATA_MIRROR=../shared/data`` would otherwise name another folder there.
    Called by the CLI before any command, and by the pipeline before it starts kernels.
    """
    for name in PATH_SETTINGS:
        value = os.environ.get(name)
        if value:
            os.environ[name] = str(Path(value).expanduser().resolve())
    root = os.environ.get(ROOT_ENV)
    if root and not Path(root).is_dir():
        from proeftuin.core.errors import DataError

        raise DataError(
            f"{ROOT_ENV}={root}: no such folder; set it to the project folder, or unset it"
        )
    return environment()


def environment() -> dict[str, str]:
    """The path settings that are set, as passed on to kernels; the study setting always (empty
    when unset), so that a long-lived worker never keeps an earlier run's study."""
    found = {name: os.environ[name] for name in PATH_SETTINGS if os.environ.get(name)}
    return {STUDY_ENV: "", **found}


def project_root() -> Path:
    """The compendium's top folder: ``$PROEFTUIN_ROOT`` or the checkout holding this package."""
    override = os.environ.get(ROOT_ENV)
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[3]


def data_mirror() -> Path | None:
    """The local mirror folder named by ``$PROEFTUIN_DATA_MIRROR``, if set."""
    value = os.environ.get(MIRROR_ENV)
    return Path(value).expanduser().resolve() if value else None


def study_dir() -> Path | None:
    """The study folder named by ``$PROEFTUIN_STUDY`` (inside the project root), if set."""
    value = os.environ.get(STUDY_ENV)
    return (project_root() / value).resolve() if value else None


def raw_dir() -> Path:
    return project_root() / "data" / "raw"


def processed_dir() -> Path:
    return project_root() / "data" / "processed"


def reference_dir() -> Path:
    """Curated small facts we maintain (checksums, crosswalks, price index)."""
    return project_root() / "data" / "reference"


def sites_dir() -> Path:
    """The site registry's folder: ``data/sites``, or a study's ``sites``."""
    study = study_dir()
    return study / "sites" if study else project_root() / "data" / "sites"


def notebooks_dir() -> Path:
    return project_root() / "notebooks"


def executed_dir() -> Path:
    study = study_dir()
    return study / "executed" if study else project_root() / "reports" / "executed"


def results_dir() -> Path:
    study = study_dir()
    return study / "results" if study else project_root() / "reports" / "results"


def plan_path() -> Path:
    study = study_dir()
    return study / "analysis.yml" if study else project_root() / "analysis.yml"
