"""The facts snapshot (``reports/results/facts.json``): what the report prints about the sites
and outcomes, written by ``proeftuin run`` from the plan, the site registry and the outcome
catalogue, so that the report reads one file instead of those three.

Per site: name, municipalities (code and name), start year, lead insurer, status, the source
of each fact, what others reported about it (``claims``), and the plan's parameters for it
(control pool, buffer, inference methods, draws, seed, periods). Per outcome: label
(English and Dutch), unit, Triple Aim dimension, which direction is better, and whether
(and why not) it is comparable over time. Beside them the registry's contested
municipalities, its other initiatives and the municipalities no control pool holds by
default (``excluded_from_controls``).
:func:`write_facts` sits in the plan layer; :func:`read_facts` needs only this file.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from proeftuin.core import settings
from proeftuin.core.errors import DataError, ResultsError
from proeftuin.core.fileio import atomic_write_text

if TYPE_CHECKING:
    from proeftuin.pipeline.plan import Plan

FACTS_FILE = "facts.json"
SCHEMA_VERSION = 1


class _Fact(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Municipality(_Fact):
    code: str
    name: str = ""


class SiteParameters(_Fact):
    """The plan's settings for a site (its defaults filled in)."""

    control_pool: str
    buffer: bool
    inference: list[str]
    draws: int
    seed: int
    first_year: int
    last_year: int
    outcomes: list[str]
    outcome_periods: dict[str, list[int]] = Field(default_factory=dict)  # own [first, last]


class Coverage(_Fact):
    """Whom the site's programme reaches: the whole population or a share of it."""

    population: Literal["whole", "share"] = "whole"
    share: float | None = None  # covered / population, where a share
    covered: int | None = None
    basis: str = ""


class ClaimFacts(_Fact):
    """A published target, claim or evaluation, with its source (``data/sites``)."""

    claim_or_evaluation: str
    target: str
    finding: str
    population: str
    period: str
    source_url: str
    quote: str = ""


class OtherFacts(_Fact):
    """A contested municipality or another initiative of the registry, as printed."""

    id: str
    name: str
    municipalities: list[Municipality] = Field(default_factory=list)
    detail: str = ""  # contested: default and alternatives; initiative: years and insurer
    status: str = ""
    sources: dict[str, str] = Field(default_factory=dict)


class SiteFacts(_Fact):
    id: str
    name: str
    municipalities: list[Municipality]
    start_year: int
    lead_insurer: str
    status: Literal["confirmed", "unverified"]
    sources: dict[str, str] = Field(default_factory=dict)  # fact -> its source
    fact_status: dict[str, str] = Field(default_factory=dict)  # fact -> confirmed/unverified
    parameters: SiteParameters
    coverage: Coverage = Field(default_factory=Coverage)
    municipalities_approximate: bool = False
    claims: list[ClaimFacts] = Field(default_factory=list)


class OutcomeFacts(_Fact):
    name: str
    label: str
    unit: str
    label_nl: str = ""  # the label in Dutch (the samenvatting)
    dimension: str  # Triple Aim: costs, quality, health
    better: Literal["higher", "lower"]
    description: str = ""
    comparability: str = ""  # empty when comparable over time, else why not


class Facts(_Fact):
    """The snapshot: every site and outcome of the plan, in the plan's order."""

    schema_version: int = SCHEMA_VERSION
    written: str = ""
    plan: str = ""  # the plan file it was taken from
    sites: list[SiteFacts] = Field(default_factory=list)
    outcomes: list[OutcomeFacts] = Field(default_factory=list)
    contested_rule: str = ""
    contested: list[OtherFacts] = Field(default_factory=list)
    other_initiatives: list[OtherFacts] = Field(default_factory=list)
    excluded_from_controls: list[str] = Field(default_factory=list)  # by default, sorted

    def site(self, site_id: str) -> SiteFacts | None:
        return next((s for s in self.sites if s.id == site_id), None)

    def outcome(self, name: str) -> OutcomeFacts | None:
        return next((o for o in self.outcomes if o.name == name), None)

    def site_names(self) -> dict[str, str]:
        """Site id -> name, for figures that label sites by name."""
        return {s.id: s.name for s in self.sites}

    def escaped(self, escape: Callable[[str], str]) -> Facts:
        """The snapshot with every free text (names, insurers, sources, labels, units)
        passed through ``escape`` (``core.escape``: what a registry or the catalogue says
        must read as text where it becomes Markdown or HTML)."""
        sites = [s.model_copy(update={
            "name": escape(s.name), "lead_insurer": escape(s.lead_insurer),
            "sources": {escape(k): escape(v) for k, v in s.sources.items()},
            "municipalities": [m.model_copy(update={"name": escape(m.name)})
                               for m in s.municipalities],
            "coverage": s.coverage.model_copy(update={"basis": escape(s.coverage.basis)}),
        }) for s in self.sites]  # fmt: skip
        texts = ("label", "label_nl", "unit", "description", "comparability")
        outcomes = [o.model_copy(update={k: escape(getattr(o, k)) for k in texts})
                    for o in self.outcomes]  # fmt: skip
        return self.model_copy(update={"sites": sites, "outcomes": outcomes})


def facts_path() -> Path:
    return settings.results_dir() / FACTS_FILE


def collect_facts(plan: Plan) -> Facts:
    """The snapshot of a plan, with the registry's and the catalogue's facts. A site or an
    outcome they do not know (a hand-built plan) keeps its id and the plan's settings."""
    from proeftuin.data.outcomes import OUTCOMES
    from proeftuin.data.sites import load_registry

    try:
        full = load_registry()
    except (OSError, DataError):  # load_plan refuses a plan the registry cannot check
        full = None
    registry = full.sites if full else {}
    claims = _claims()
    sites = []
    for site_id in plan.sites:
        params = plan.site_settings(site_id)
        site = registry.get(site_id)
        names = site.municipality_names if site else []
        codes = site.municipalities if site else []
        keep = {"name", "lead_insurer", "status", "sources", "municipalities_approximate"}
        known = site.model_dump(include=keep) if site else {}
        site_facts = SiteFacts(
            **{"name": site_id, "lead_insurer": "", "status": "unverified", **known},
            id=site_id,
            municipalities=[
                Municipality(code=code, name=names[i] if i < len(names) else "")
                for i, code in enumerate(codes)
            ],
            start_year=params["start_year"],
            fact_status=dict(site.fact_status) if site else {},
            parameters=SiteParameters(
                **{k: params[k] for k in ("control_pool", "buffer", "inference", "draws", "seed")},
                first_year=plan.spec.periods.first_year,
                last_year=plan.spec.periods.last_year,
                outcomes=params["outcomes"],
                outcome_periods={
                    o: list(plan.spec.periods.of(o))
                    for o in params["outcomes"]
                    if o in plan.spec.periods.outcomes
                },
            ),
            coverage=_coverage(site),
            claims=[c for about, c in claims if about(site_id)],
        )
        sites.append(site_facts)
    names = dict.fromkeys([*plan.outcomes, *(o for s in sites for o in s.parameters.outcomes)])
    outcomes = [
        OutcomeFacts(
            name=name,
            label=info.label,
            label_nl=info.label_nl,
            unit=info.unit,
            dimension=info.dimension,
            better="higher" if info.higher_is_better else "lower",
            description=info.description,
            comparability="" if info.comparable_over_time else "not comparable over time",
        )
        for name, info in ((n, OUTCOMES.get(n)) for n in names)
        if info is not None
    ]
    root = settings.project_root()
    plan_file = plan.path.relative_to(root) if plan.path.is_relative_to(root) else plan.path
    return Facts(
        written=datetime.now(UTC).isoformat(timespec="seconds"),
        plan=plan_file.as_posix(),
        sites=sites,
        outcomes=outcomes,
        **_registry_sections(full),
    )


def _claims() -> list[tuple[Any, ClaimFacts]]:
    """(the claim's ``about`` test, the claim as printed) for every published claim."""
    from proeftuin.data.claims import load_claims

    keep = set(ClaimFacts.model_fields)
    return [(c.about, ClaimFacts(**c.model_dump(include=keep))) for c in load_claims()]


def _registry_sections(registry: Any) -> dict[str, Any]:  # a sites.Registry, or None
    """The contested municipalities, other initiatives and default exclusions, as printed."""
    if registry is None:
        return {}
    contested = [
        OtherFacts(
            id=code,
            name=e.name,
            municipalities=[Municipality(code=code, name=e.name)],
            detail=f"default {e.default}; alternatives: {', '.join(e.alternatives)}",
            status=" ".join(f"{k}: {v}" for k, v in e.fact_status.items()),
            sources={k: " ".join(v.split()) for k, v in e.sources.items()},
        )
        for code, e in registry.contested.items()
    ]
    others = [
        OtherFacts(
            id=o.id,
            name=o.name,
            municipalities=[
                Municipality(code=c, name=n)
                for c, n in zip(o.municipalities, o.municipality_names, strict=False)
            ],
            detail=f"{o.years[0]}-{o.years[1] or '?'}; insurer {o.lead_insurer or '?'}; "
            f"excluded from the controls: {o.exclude_from_controls}",
            status=o.status,
            sources={k: " ".join(v.split()) for k, v in o.sources.items()},
        )
        for o in registry.other_initiatives.values()
    ]
    return {
        "contested_rule": registry.contested_rule,
        "contested": contested,
        "other_initiatives": others,
        "excluded_from_controls": sorted(registry.excluded_from_controls()),
    }


def _coverage(site: Any) -> Coverage:  # a sites.Site, or None for an unknown site
    if site is None or site.coverage is None:
        return Coverage()
    raw = site.coverage.model_dump(include={"population", "share", "covered", "basis"})
    return Coverage(**{**raw, "basis": " ".join(str(raw.get("basis") or "").split())})


def write_facts(plan: Plan) -> Path:
    """Write ``reports/results/facts.json`` for this plan (at the start of every run); keys
    in the schema's and the registry's order (the sources of a site as the registry has them)."""
    return atomic_write_text(facts_path(), collect_facts(plan).model_dump_json(indent=2) + "\n")


def read_facts(path: Path | None = None) -> Facts:
    """The snapshot; an empty one (no sites, no outcomes) when no run has written it yet."""
    path = path or facts_path()
    if not path.is_file():
        return Facts()
    try:
        return Facts.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        reason = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ResultsError(
            f"{path}: unreadable facts snapshot ({reason[:100]}): rerun `proeftuin run`"
        ) from None


def facts_problem(tasks: list[Any]) -> str | None:
    """Why the facts snapshot cannot serve a report of these tasks (manifest entries): it is
    missing, unreadable or lacks a site they ran for; ``None`` when it serves."""
    path = facts_path()
    if not path.is_file():
        return f"no facts snapshot at {path}: the site pages need it; rerun `proeftuin run`"
    try:
        known = {s.id for s in read_facts(path).sites}
    except ResultsError as exc:
        return str(exc)
    missing = sorted({t.site for t in tasks if t.site and t.site not in known})
    if missing:
        return f"{path}: no facts for sites {', '.join(missing)}: rerun `proeftuin run`"
    return None
