"""The ``proeftuin`` command: thin wrappers that parse options and call the library.

Each command group lives in its own module; this one assembles them and defines ``all``.
Every error a user can cause is a :class:`proeftuin.core.errors.ProeftuinError`; it is caught
once, here, printed as one line on stderr, and the command exits with its exit code.
"""

from __future__ import annotations

import click
import typer
from rich.console import Console
from rich.text import Text
from typer.core import TyperGroup

from proeftuin.cli import data_cmd, estimate_cmd, placebo_cmd, report_cmd, run_cmd, synth_cmd
from proeftuin.core import settings
from proeftuin.core.errors import ProeftuinError, disk_error


class _Group(TyperGroup):
    """The command group: turns a :class:`ProeftuinError` into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ProeftuinError as exc:
            _fail(exc)
        except OSError as exc:  # a full or read-only disk, a folder not ours: one line too
            error = disk_error(exc)
            if error is None:
                raise
            _fail(error)


def _fail(exc: ProeftuinError) -> None:
    text = Text(f"{exc.kind}: ", style="bold red") + Text(str(exc))
    Console(stderr=True, soft_wrap=True).print(text, highlight=False)
    raise typer.Exit(exc.exit_code) from None


app = typer.Typer(
    cls=_Group,
    name="proeftuin",
    help="Evaluate the Dutch Pioneer sites: data -> notebooks -> report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)


@app.callback()
def _settings() -> None:
    """Evaluate the Dutch Pioneer sites: data -> notebooks -> report."""
    settings.resolve_environment()  # relative paths mean the caller's folder, everywhere


app.command("data")(data_cmd.data)
app.command("run")(run_cmd.run)
app.command("report")(report_cmd.report)
app.command("placebo-study")(placebo_cmd.placebo_study)


def _estimate_heartbeat(ctx: typer.Context) -> None:
    """Estimate DiD or ITS on a CSV panel and print JSON."""
    from proeftuin.cli.heartbeat import Heartbeat

    beat = Heartbeat(f"estimate {ctx.invoked_subcommand or ''}".strip()).start()
    ctx.call_on_close(beat.stop)


estimate_cmd.app.command("synth")(synth_cmd.synth)
app.add_typer(estimate_cmd.app, name="estimate", callback=_estimate_heartbeat)


@app.command("all")
def run_all(
    mirror: data_cmd.MirrorOption = None,
    jobs: run_cmd.JobsOption = None,
) -> None:
    """Build the panel, execute every notebook of the plan, then render the report."""
    data_cmd.data(mirror=mirror)
    run_cmd.run(jobs=jobs, exit_on_failure=False)
    report_cmd.report()
    run_cmd.exit_if_failed()


def main() -> None:  # pragma: no cover - console entry point
    app()
