"""A site's evaluation design: its municipalities, its comparison group, its periods.

:func:`site_design` combines the registry (which municipalities form the Pioneer site,
when it started), the control pool (which municipalities are comparable) and the panel,
all passed in as :class:`DesignInputs` (loaded once by :func:`load_inputs`), into a
:class:`SiteDesign`, the one value that DiD and ITS analyses of a site start
from. It frames the panel for an estimator (long frame with treatment timing) or as two
series (site vs. comparison group, weighted by insured-years).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from proeftuin.data.sites import Registry


@dataclass(frozen=True)
class SiteDesign:
    """Treated and control municipalities of one Pioneer site, with the panel rows."""

    site: str
    name: str
    treated: tuple[str, ...]
    controls: tuple[str, ...]
    start_year: int
    first_year: int
    last_year: int
    control_pool: str
    buffer: bool
    panel: pd.DataFrame
    areas: dict[str, str] = field(default_factory=dict)  # municipality -> COROP region
    periods: dict[str, tuple[int, int]] = field(default_factory=dict)  # outcome -> own period
    # outcome -> its frame; not an init field, so dataclasses.replace starts an empty one
    _frames: dict[str, pd.DataFrame] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def period(self, outcome: str) -> tuple[int, int]:
        """The outcome's analysis years: its own period where the plan gives one."""
        return self.periods.get(outcome, (self.first_year, self.last_year))

    def outcome_frame(self, outcome: str) -> pd.DataFrame:
        """Long frame for one outcome: one row per municipality and year with timing columns.

        ``first_treated`` is the start year for the site's municipalities and 0 for the
        controls; ``treated_post`` is 1 for the site's municipalities from the start year;
        ``placebo_area`` is the municipality's COROP region, from which randomization
        inference draws placebo sites of neighbouring municipalities. Built once per
        outcome; each call returns its own copy.
        """
        if outcome not in self._frames:
            self._frames[outcome] = self._outcome_frame(outcome)
        return self._frames[outcome].copy()

    def _outcome_frame(self, outcome: str) -> pd.DataFrame:
        first, last = self.period(outcome)
        rows = self.panel[
            (self.panel["outcome"] == outcome) & self.panel["year"].between(first, last)
        ]
        frame = rows[["municipality", "year", "value", "weight"]].dropna(subset=["value"])
        in_site = frame["municipality"].isin(self.treated)
        return frame.assign(
            placebo_area=frame["municipality"].map(self.areas).fillna("unknown"),
            treated=in_site.astype(int),
            first_treated=in_site.astype(int) * self.start_year,
            treated_post=(in_site & (frame["year"] >= self.start_year)).astype(int),
        ).reset_index(drop=True)

    def count_frame(self, outcome: str, count: str, exposure: str) -> pd.DataFrame:
        """Long frame of a count model in the outcome's period: municipality, year, count,
        exposure, ``placebo_area`` (COROP) and ``treated``; municipalities lacking either
        value in a year are left out of that year."""
        first, last = self.period(outcome)
        rows = self.panel[self.panel["outcome"].isin([count, exposure])]
        rows = rows[rows["year"].between(first, last)]
        wide = rows.pivot_table(index=["municipality", "year"], columns="outcome", values="value")
        frame = wide.reindex(columns=[count, exposure]).dropna().reset_index()
        frame.columns.name = None
        return frame.assign(
            placebo_area=frame["municipality"].map(self.areas).fillna("unknown"),
            treated=frame["municipality"].isin(self.treated).astype(int),
        )

    def series(self, outcome: str) -> pd.DataFrame:
        """Yearly weighted means of the site and of its comparison group (wide)."""
        frame = self.outcome_frame(outcome)
        frame = frame.assign(
            group=frame["treated"].map({1: "site", 0: "control"}),
            weighted=frame["value"] * frame["weight"],
        )
        sums = frame.groupby(["year", "group"])[["weighted", "weight"]].sum()
        means = (sums["weighted"] / sums["weight"]).unstack("group")
        return means.reindex(columns=["site", "control"]).reset_index().rename_axis(None, axis=1)

    def years(self, outcome: str, *, treated_only: bool = False) -> list[int]:
        """Years with a value for the outcome (for the site's municipalities if asked)."""
        frame = self.outcome_frame(outcome)
        if treated_only:
            frame = frame[frame["treated"] == 1]
        return sorted(frame["year"].unique().tolist())

    def reference_event_time(self, outcome: str) -> int | None:
        """Event time of the site's last observed pre-period year (None when there is none).

        Judged on the site's own municipalities: a survey wave suppressed for them (small
        samples) gives no pre-period even where the controls have one.
        """
        pre = [y for y in self.years(outcome, treated_only=True) if y < self.start_year]
        return (max(pre) - self.start_year) if pre else None

    def facts(self) -> pd.DataFrame:
        """The design in a small table, for the notebook and the report."""
        names = self.panel.drop_duplicates("municipality").set_index("municipality")["name"]
        site_names = ", ".join(sorted(names.reindex(list(self.treated)).fillna("?")))
        pool = self.control_pool + (" (neighbours excluded)" if self.buffer else "")
        years = f"{self.first_year}-{self.last_year}" + "".join(
            f"; {name}: {a}-{b}" for name, (a, b) in self.periods.items()
        )
        return pd.DataFrame(
            {
                "": [
                    "Pioneer site",
                    "Municipalities",
                    "Start year",
                    "Comparison group",
                    "Control municipalities",
                    "Analysis years",
                ],
                "value": [
                    self.name,
                    f"{len(self.treated)}: {site_names}",
                    str(self.start_year),
                    f"control pool '{pool}'",
                    str(len(self.controls)),
                    years,
                ],
            }
        ).set_index("")


@dataclass(frozen=True)
class DesignInputs:
    """What every site design is built from: the registry, the covariates and the panel.

    Loaded once (:func:`load_inputs`) and passed on, so that building several designs (the
    robustness checks build one per control pool) reads nothing again."""

    registry: Registry
    covariates: pd.DataFrame
    panel: pd.DataFrame


def load_inputs() -> DesignInputs:
    """The one loader the notebooks call: the validated registry, covariates and panel."""
    from proeftuin.data.processed import load_covariates, load_panel
    from proeftuin.data.sites import load_registry

    return DesignInputs(load_registry(), load_covariates(), load_panel())


def site_design(
    site: str,
    inputs: DesignInputs,
    *,
    control_pool: str = "all",
    buffer: bool = False,
    start_year: int | None = None,
    first_year: int = 2011,
    last_year: int = 2023,
    outcome_periods: Mapping[str, Sequence[int]] | None = None,
    initiatives: str = "excluded",
) -> SiteDesign:
    """The design of one site from the registry, its control pool and the panel (no I/O).

    ``outcome_periods`` gives outcomes their own analysis years ``[first, last]`` (e.g. the
    mortality series from 1996); every other outcome uses ``first_year``-``last_year``.
    ``initiatives`` says whether other initiatives' municipalities may be controls
    (``data.initiatives.INITIATIVE_RULES``; by default they may not)."""
    from proeftuin.data.sites import control_pool as pool_of

    entry = inputs.registry.sites[site]
    covariates, panel = inputs.covariates, inputs.panel
    controls = pool_of(
        inputs.registry, site, covariates, pool=control_pool, buffer=buffer, initiatives=initiatives
    )
    members = set(entry.municipalities) | set(controls)
    periods = {k: (int(v[0]), int(v[1])) for k, v in (outcome_periods or {}).items()}
    lo = min([first_year, *(a for a, _ in periods.values())])
    hi = max([last_year, *(b for _, b in periods.values())])
    in_design = panel["municipality"].isin(members) & panel["year"].between(lo, hi)
    return SiteDesign(
        site=site,
        name=entry.name,
        treated=tuple(entry.municipalities),
        controls=tuple(controls),
        start_year=start_year or entry.start_year,
        first_year=first_year,
        last_year=last_year,
        control_pool=control_pool,
        buffer=buffer,
        panel=panel.loc[in_design].reset_index(drop=True),
        areas=dict(zip(covariates["municipality"], covariates["corop_region"], strict=True)),
        periods=periods,
    )
