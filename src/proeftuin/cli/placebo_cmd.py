"""``proeftuin placebo-study``: the whole evaluation on pseudo-sites, then its calibration."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from proeftuin.cli import run_cmd
from proeftuin.core import settings

console = run_cmd.console


def placebo_study(
    sites: Annotated[
        int, typer.Option("--sites", "-n", help="Number of pseudo-sites to draw.", min=1)
    ] = 40,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of the pseudo-sites' draw.", min=0)
    ] = settings.DEFAULT_SEED,
    draws: Annotated[
        int | None,
        typer.Option("--draws", help="Bootstrap and RI draws (default: the plan's).", min=99),
    ] = None,
    only: Annotated[
        list[str] | None,
        typer.Option("--site", "-r", help="Run only this pseudo-site (repeatable): a subset."),
    ] = None,
    jobs: run_cmd.JobsOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rerun even if cached.")] = False,
    scheduler: Annotated[
        str | None,
        typer.Option(help="Run on Dask: 'local' for a local cluster, or a scheduler address."),
    ] = None,
) -> None:
    """Run every design and the synthesis on pseudo-sites (untreated municipalities shaped
    like the real sites) into reports/placebo/, then calibrate the scorecard's labels."""
    from proeftuin.data.outcomes import OUTCOMES
    from proeftuin.pipeline import placebo, results, run_plan
    from proeftuin.pipeline.plan import load_plan
    from proeftuin.synthesis import calibration

    real_results = results.results_dir()
    folder = placebo.prepare_study(sites, seed, draws=draws)
    started = time.perf_counter()
    with placebo.study(folder):
        plan = load_plan()
        run_cmd._check_selection(plan, only, None)
        summary = run_plan(plan, sites=only, jobs=jobs, force=force, scheduler=scheduler,
                           display=run_cmd.ProgressDisplay())  # fmt: skip
        run_cmd._report(summary, time.perf_counter() - started)
        manifest = results.read_manifest()
        study_results = results.results_dir()
    good = calibration.good_sites(manifest)
    console.print(
        f"placebo study ({folder.relative_to(settings.project_root())}): {len(good)} of "
        f"{len(plan.sites)} pseudo-sites completed; manifest state: {manifest.state}"
    )
    better = {name: o.higher_is_better for name, o in OUTCOMES.items()}
    tables = calibration.calibrate(study_results, real_results, better)
    console.print(calibration.summary_text(tables), soft_wrap=True, highlight=False)
    if summary.interrupted:
        raise typer.Exit(run_cmd.INTERRUPTED_EXIT)
    if summary.failed:
        raise typer.Exit(1)
