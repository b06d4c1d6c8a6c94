"""The ``proeftuin`` command: thin wrappers that parse options and call the library.

Each command group lives in its own module; this one assembles them and defines ``all``.
"""

from __future__ import annotations

import typer

from proeftuin.cli import data_cmd, estimate_cmd, report_cmd, run_cmd

app = typer.Typer(
    name="proeftuin",
    help="Evaluate the Dutch Pioneer sites: data -> notebooks -> report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
app.command("data")(data_cmd.data)
app.command("run")(run_cmd.run)
app.command("report")(report_cmd.report)
app.add_typer(estimate_cmd.app, name="estimate")


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
