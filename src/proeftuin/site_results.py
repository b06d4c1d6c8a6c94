"""A site's results of one design as one object: its estimates table, its figures, its files.

One job: hold what a design estimated for a site, so that a site notebook is a few calls.
:class:`DidResults`, :class:`ItsResults` and :class:`SynthResults` each run their design's
estimation with ``run`` (:func:`analysis.run_did`, :func:`its_analysis.run_its`,
:func:`synthetic.run_synth`, which the robustness checks and tests call directly) and keep
the site's design with one result per outcome (and estimator). They compute nothing of
their own: ``table()`` is the tidy estimates table the design's CSV gets (from the design's
table function, computed once), the plotting methods call :mod:`proeftuin.plots`, and
``save()`` writes the files the design's writers write.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Generic, TypeVar

import pandas as pd
from matplotlib.figure import Figure

from proeftuin import analysis, its_analysis, plots, synthetic
from proeftuin.analysis import OutcomeResult
from proeftuin.design import SiteDesign
from proeftuin.its_analysis import ItsOutcome

Item = TypeVar("Item", OutcomeResult, ItsOutcome)


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
        return analysis.not_estimated(self.table(), label=label)

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``<name>_estimates.csv`` and ``<name>.json`` (full results) atomically."""
        return analysis.write_results(results_dir, self.name, self.table(), self.results)


@dataclass
class DidResults(SiteResults[OutcomeResult]):
    """Difference-in-differences of a site against its comparison group, per outcome."""

    name: ClassVar[str] = "did"

    @classmethod
    def run(
        cls,
        design: SiteDesign,
        outcomes: Sequence[str],
        *,
        inference: Sequence[str],
        draws: int,
        seed: int,
    ) -> DidResults:
        """Estimate every outcome (:func:`analysis.run_did`, with its event study)."""
        fits = analysis.run_did(design, outcomes, inference=inference, draws=draws, seed=seed)
        return cls(design, fits)

    def _tidy(self) -> pd.DataFrame:
        return analysis.did_table(self.design, self.results)

    def event_studies(self) -> Figure | None:
        """Event-study coefficients, one panel per outcome with an event study."""
        return plots.event_studies(self.design, self.results)


@dataclass
class ItsResults(SiteResults[ItsOutcome]):
    """Interrupted time series of a site, per outcome, with placebo-site inference."""

    name: ClassVar[str] = "its"

    @classmethod
    def run(
        cls, design: SiteDesign, outcomes: Sequence[str], *, draws: int, seed: int
    ) -> ItsResults:
        """Fit every outcome, or say why not (:func:`its_analysis.run_its`)."""
        return cls(design, its_analysis.run_its(design, outcomes, draws=draws, seed=seed))

    def _tidy(self) -> pd.DataFrame:
        return its_analysis.its_table(self.design, self.results)

    def refused(self) -> pd.DataFrame:
        """The outcomes the design refuses, with the reason: one line each."""
        return its_analysis.refused(self.results)

    def in_time(self) -> pd.DataFrame:
        """Placebo-in-time: the site's controlled fit at fake starts in its pre-period."""
        return its_analysis.in_time(self.results)

    def panels(self) -> Figure | None:
        """Observed, fitted and counterfactual series, one panel per estimated outcome."""
        return plots.its_panels(self.design, self.results)

    def placebos(self) -> Figure | None:
        """Placebo sites' level and slope changes with the site's, one row per outcome."""
        return plots.its_placebos(self.results)

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``its_estimates.csv``, ``its_in_time.csv`` and ``its.json`` atomically."""
        return its_analysis.write_results(results_dir, self.table(), self.results)


@dataclass
class SynthResults(SiteResults[OutcomeResult]):
    """Synthetic DiD and synthetic control of a site, per outcome and estimator."""

    name: ClassVar[str] = "synth"

    _weights: pd.DataFrame | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def run(
        cls, design: SiteDesign, outcomes: Sequence[str], *, draws: int, seed: int
    ) -> SynthResults:
        """Both estimators for every outcome (:func:`synthetic.run_synth`; draws capped)."""
        return cls(design, synthetic.run_synth(design, outcomes, draws=draws, seed=seed))

    def _tidy(self) -> pd.DataFrame:
        return synthetic.synth_table(self.design, self.results)

    def weights(self) -> pd.DataFrame:
        """Every nonzero donor weight and every time weight (``synth_weights.csv``)."""
        if self._weights is None:
            self._weights = synthetic.weights_table(self.design, self.results)
        return self._weights.copy()

    def fit_table(self) -> pd.DataFrame:
        """Per outcome and estimator: estimate, RI interval, pre-period RMSPE and MDE."""
        return synthetic.fit_table(self.design, self.table())

    def top_donors(self, n: int = 5) -> pd.DataFrame:
        """The ``n`` largest donor weights per outcome and estimator."""
        return synthetic.top_donors(self.weights(), n)

    def time_weights(self) -> pd.DataFrame:
        """Synthetic DiD's weights on the pre-period years, one column per outcome."""
        return synthetic.time_weights(self.weights())

    def paths(self) -> Figure | None:
        """The site against its synthetic counterparts, one panel per estimated outcome."""
        return plots.synth_paths(self.design, self.results)

    def placebos(self) -> Figure | None:
        """Placebo-site estimates with the site's marked, one panel per estimated outcome."""
        return plots.synth_placebos(self.results)

    def save(self, results_dir: str | Path) -> list[Path]:
        """Write ``synth_estimates.csv``, ``synth.json`` and ``synth_weights.csv`` atomically."""
        written = super().save(results_dir)
        names = analysis.write_tables(results_dir, synth_weights=self.weights())
        return written + [Path(results_dir) / name for name in names]
