"""One error hierarchy, caught once by the command line."""

from __future__ import annotations

import inspect

import pytest
import typer
from typer.testing import CliRunner

from proeftuin.cli import _Group
from proeftuin.core import errors


def test_every_project_error_derives_from_the_one_root():
    members = inspect.getmembers(errors, inspect.isclass)
    classes = [c for _, c in members if c.__module__ == errors.__name__]
    assert len(classes) >= 8
    for cls in classes:
        assert issubclass(cls, errors.ProeftuinError), cls


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (errors.DesignError("no treated units in column 'd'"), 2),
        (errors.DataError("x.csv: line 3: expected 12 fields"), 2),
        (errors.QuartoRequiredError("quarto not found"), 1),
    ],
)
def test_the_cli_turns_a_project_error_into_one_line_and_its_exit_code(error, code):
    app = typer.Typer(cls=_Group)

    @app.command("boom")
    def boom() -> None:
        raise error

    @app.command("other")
    def other() -> None:  # a second command keeps typer from flattening the group
        pass

    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == code
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert lines == [f"{error.kind}: {error}"]
    assert "Traceback" not in result.output
