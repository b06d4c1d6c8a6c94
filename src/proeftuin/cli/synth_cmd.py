"""``proeftuin estimate synth``: synthetic DiD, synthetic control or DiD on a CSV panel, JSON out.

Thin, like ``estimate did``: reads the CSV, calls
:func:`proeftuin.estimators.synth.estimate.estimate_synth` and prints the result's dictionary.
A bad input ends with one line on stderr and exit 2.
Registered on the ``estimate`` group in :mod:`proeftuin.cli`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from proeftuin.cli.estimate_cmd import DataOpt, JsonOpt, _emit, _fail, _read
from proeftuin.core import settings


def synth(
    data: DataOpt,
    unit: Annotated[str, typer.Option("--unit", help="Unit (municipality) column.")],
    time: Annotated[str, typer.Option("--time", help="Period column.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column.")],
    treated: Annotated[
        str, typer.Option("--treated", help="0/1 column: 1 from a unit's first treated period.")
    ],
    method: Annotated[str, typer.Option("--method", help="sdid, sc or did.")] = "sdid",
    inference: Annotated[
        str, typer.Option("--inference", help="Comma list: placebo,jackknife,ri (or none).")
    ] = "placebo",
    draws: Annotated[
        int, typer.Option("--draws", help="Placebo replications / RI draws (2 to 100000).")
    ] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = settings.DEFAULT_SEED,
    aggregate: Annotated[
        bool,
        typer.Option("--aggregate", help="Merge each cohort's treated units into one unit first."),
    ] = False,
    weights: Annotated[
        str | None,
        typer.Option("--weights", help="Unit weight column for --aggregate (e.g. insured-years)."),
    ] = None,
    placebo_group: Annotated[
        str | None,
        typer.Option(
            "--placebo-group",
            help="Area column (e.g. corop_region): RI placebo sites drawn within one area.",
        ),
    ] = None,
    sep: Annotated[str, typer.Option("--sep", help="CSV field separator.")] = ",",
    as_json: JsonOpt = True,
) -> None:
    """Synthetic difference-in-differences (or SC, DiD) on a balanced unit x period panel."""
    from proeftuin.estimators import DesignError
    from proeftuin.estimators.synth.estimate import estimate_synth

    frame = _read(data, sep)
    methods = [] if inference.strip().lower() == "none" else inference.split(",")
    try:
        result = estimate_synth(
            frame,
            unit=unit,
            time=time,
            outcome=outcome,
            treated=treated,
            method=method,
            inference=methods,
            draws=draws,
            seed=seed,
            aggregate=aggregate,
            weights=weights,
            placebo_group=placebo_group,
        )
    except DesignError as exc:
        _fail(str(exc))
        return
    _emit(result.to_dict())
