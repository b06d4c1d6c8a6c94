"""Shared fixtures: the data mirror, and an isolated project root for tests that write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proeftuin.core import settings

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def mirror_dir() -> Path:
    """The data mirror folder (``$PROEFTUIN_DATA_MIRROR``).

    Offline tests on real data read the mirror. Outside CI a missing mirror skips the
    test with its reason; in CI (``CI=true``) it is an error, so that a green run never
    hides a test that did not run.
    """
    mirror = settings.data_mirror()
    if mirror is None or not mirror.is_dir():
        message = f"data mirror not found: set {settings.MIRROR_ENV} (CI uses ../shared/data)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return mirror


@pytest.fixture(scope="session")
def reference_dir(mirror_dir: Path) -> Path:
    """Reference data sets with published results (mpdta, sicily)."""
    return mirror_dir / "reference"


@pytest.fixture(scope="session")
def built_panel(mirror_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The real panel, built once per session from the mirror into a temporary root.

    Yields ``(root, build)``. ``PROEFTUIN_ROOT`` points at the root only while building, so
    that no other test sees it; read the outputs through ``root``.
    """
    from proeftuin.data import panel

    root = tmp_path_factory.mktemp("panel-root")
    (root / "data").mkdir()
    (root / "data" / "reference").symlink_to(REPO / "data" / "reference")
    (root / "data" / "sites").symlink_to(REPO / "data" / "sites")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(settings.ROOT_ENV, str(root))
        build = panel.build_panel(mirror_dir, progress=False)
    return root, build


def link_project(root: Path, panel_root: Path) -> Path:
    """Make ``root`` a project root that shares this checkout's code and a built panel."""
    for name in ("notebooks", "requirements.lock", "_quarto.yml"):
        (root / name).symlink_to(REPO / name)
    (root / "data").mkdir()
    for name in ("reference", "sites"):
        (root / "data" / name).symlink_to(REPO / "data" / name)
    (root / "data" / "processed").symlink_to(panel_root / "data" / "processed")
    return root
