"""Shared fixtures: the data mirror, and an isolated project root for tests that write."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from proeftuin import settings


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
