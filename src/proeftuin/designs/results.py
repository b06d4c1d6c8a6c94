"""A site's results of one design as one object, and the table helpers every design shares.

One job: hold what a design estimated for a site, so that a site notebook is a few calls.
:class:`SiteResults` is the base of each design's results object (``DidResults`` in
:mod:`proeftuin.designs.did`, ``ItsResults`` in :mod:`proeftuin.designs.its`,
``SynthResults`` in :mod:`proeftuin.designs.synth`): ``run`` estimates every outcome and
keeps the site's design with one result per outcome (and estimator); ``table()`` is the tidy
estimates table the design's CSV gets (computed once), ``save()`` writes the design's files.
Beside it: :class:`OutcomeResult` (one outcome's fit or the reason there is none), the
notebooks' one line on what was not estimated, the table for reading, and the atomic
writers of the results files.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

import numpy as np
import pandas as pd

from proeftuin.core.fileio import atomic_write_json, atomic_write_text
from proeftuin.designs.comparison import SiteDesign

Item = TypeVar("Item")  # one outcome's result: OutcomeResult, or ItsOutcome for the ITS


@dataclass
class SiteResults(ABC, Generic[Item]):
    """One design's results for one site: the site's design and one result per outcome."""

    #: The design's name: the ``design`` column of its table and its files' names.
    name: ClassVar[str]

    design: SiteDesign
    results: list[Item]
    _table: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @abstractmethod
    def _tidy(self) -> pd.DataFrame:
        """The estimates table, from the design's table function."""

    def table(self) -> pd.DataFrame:
        """The tidy estimates table (``<name>_estimates.csv``): one row per outcome and
        inference method, and one per outcome not estimated, with its reason."""
        if self._table is None:
            self._table = self._tidy()
        return self._table.copy()

    def not_estimated(self, label: str = "") -> str:
        """One line: the outcomes without an estimate (so without a figure panel) and why,
        after ``label`` (the figure it is about)."""
        return not_estimated(self.table(), label=label)

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``<name>_estimates.csv`` and ``<name>.json`` (full results) atomically."""
        return write_results(results_dir, self.name, self.table(), self.results)


@dataclass
class OutcomeResult:
    """One outcome's estimate, or the reason there is none."""

    outcome: str
    result: Any | None  # estimators.DidResult | SynthResult
    reason: str | None = None
    estimator: str | None = None  # set where one outcome has several estimators (sdid, sc)


def not_estimated(
    table: pd.DataFrame,
    outcomes: Sequence[str] | None = None,
    *,
    label: str = "",
    **only: Sequence[str],
) -> str:
    """One line for the notebook: which outcomes have no estimate in ``table`` (and so no
    figure panel), with the reason its notes give, after ``label`` (the figure it is about).
    ``outcomes`` defaults to those in the table; ``only`` keeps rows whose column is one of
    the values (``check=["placebo_year"]``)."""
    from proeftuin.data.outcomes import get_outcome

    for column, keep in only.items():
        table = table[table[column].isin(keep)] if column in table else table.iloc[0:0]
    if "outcome" not in table:
        table = table.assign(outcome=pd.Series(dtype=object))
    if "estimate" not in table:
        table = table.assign(estimate=np.nan)
    has = table["outcome"]
    wanted = list(dict.fromkeys(has)) if outcomes is None else list(outcomes)
    values = pd.to_numeric(table["estimate"], errors="coerce").to_numpy(float)
    done = set(has[np.isfinite(values)])
    missing = []
    for outcome in (o for o in wanted if o not in done):
        notes = table.loc[has == outcome, "note"] if "note" in table else []
        reasons = list(dict.fromkeys(n for n in notes if isinstance(n, str) and n))
        more = f" (and {len(reasons) - 1} other reasons)" if len(reasons) > 1 else ""
        reason = f"{reasons[0]}{more}" if reasons else "no estimate"
        missing.append(f"{get_outcome(outcome).label}: {reason}")
    head = f"{label}: " if label else ""
    if not missing:
        return f"{head}every outcome was estimated."
    return f"{head}not estimated, so not drawn: " + "; ".join(missing) + "."


def display_table(table: pd.DataFrame, digits: int = 3) -> pd.DataFrame:
    """A table for reading: outcomes by their labels, counts as whole numbers, an infinite
    interval bound as "unbounded", other numbers rounded, empty cells blank, and column
    names in words (``ci_low`` → "ci low")."""
    from proeftuin.data.outcomes import OUTCOMES

    shown = table.copy()
    if "outcome" in shown:
        shown["outcome"] = [OUTCOMES[o].label if o in OUTCOMES else o for o in shown["outcome"]]
    for column in shown.columns:
        values = shown[column]
        if column.startswith("n_") and pd.api.types.is_numeric_dtype(values):
            shown[column] = values.round().astype("Int64").astype(object)
        elif pd.api.types.is_float_dtype(values):
            rounded = values.round(digits).astype(object)
            shown[column] = rounded.where(~np.isinf(values), "unbounded")
    return shown.fillna("").rename(columns=lambda c: c.replace("_", " "))


def write_results(
    results_dir: str | Path, name: str, table: pd.DataFrame, results: list[OutcomeResult]
) -> list[Path]:
    """Write ``<name>_estimates.csv`` and ``<name>.json`` (full results) atomically."""
    folder = Path(results_dir)
    csv = atomic_write_text(folder / f"{name}_estimates.csv", table.to_csv(index=False))
    payload: dict[str, Any] = {}
    for item in results:
        entry = item.result.to_dict() if item.result is not None else {"reason": item.reason}
        if item.estimator is None:
            payload[item.outcome] = entry
        else:
            payload.setdefault(item.outcome, {})[item.estimator] = entry
    full = atomic_write_json(folder / f"{name}.json", payload)
    return [csv, full]


def write_tables(folder: str | Path, **tables: pd.DataFrame) -> list[str]:
    """Write each named table as ``<name>.csv`` in ``folder`` (atomically); return the names."""
    return [
        atomic_write_text(Path(folder) / f"{name}.csv", table.to_csv(index=False)).name
        for name, table in tables.items()
    ]
