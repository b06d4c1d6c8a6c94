"""The outcome catalogue: name, label, unit, description and Triple Aim dimension of
every outcome in the panel, plus the Vektis cost categories each cost outcome sums and a
plan's headline outcomes (the first of each Triple Aim dimension)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Literal

from proeftuin.core.errors import UnknownOutcome
from proeftuin.data import components

if TYPE_CHECKING:  # pandas is imported only where used, to keep plan checks fast
    import pandas as pd

VEKTIS = "Vektis Open Databestand Zvw per gemeente (Bron: Vektis)"
CBS_ADM = "CBS StatLine 84521NED (admissions) / Vektis insured-years"
CBS_GM = "GGD/RIVM/CBS Gezondheidsmonitor Volwassenen (82166NED, 83674NED, 85012NED, 85563NED)"
CBS_MORT = "CBS StatLine 80142ned (deaths by cause) / 37259ned (population on 1 January)"
CBS_AGE = "CBS StatLine 80860ned (1999-2009) / Vektis insured-years by age (2011-2023)"
CBS_SMR = (
    "CBS StatLine 80142ned (deaths by cause) / 7052_95 (national deaths by cause, sex and age) "
    "/ 80860ned (1999-2009) and Vektis insured-years (2011-2019) by age / 37259ned (2010)"
)

GP = ["huisarts_inschrijftarief", "huisarts_consult", "huisarts_overig"]
GROUPS: dict[str, list[str]] = {
    "hospital": ["medisch_specialistische_zorg"],
    "gp": GP,
    "pharmacy": ["farmacie"],
    "mental_health": [
        "tweedelijns_ggz",
        "eerstelijns_psychologische_zorg",
        "specialistische_ggz",
        "generalistische_basis_ggz",
        "langdurige_ggz",
        "consulten_ggz",
        "intramuraal_verblijf_ggz",
        "overige_prestaties_ggz",
        "innovatiegelden_ggz",
    ],
    "paramedical": ["paramedische_zorg_fysiotherapie", "paramedische_zorg_overig"],
}
#: Categories present with a stable definition in every year 2011-2023.
BASKET = [
    *GROUPS["hospital"],
    *GP,
    "farmacie",
    *GROUPS["paramedical"],
    "hulpmiddelen",
    "mondzorg",
    "ziekenvervoer_zittend",
    "ziekenvervoer_liggend",
    "kraamzorg",
    "verloskundige_zorg",
    "grensoverschrijdende_zorg",
    "eerstelijns_ondersteuning",
]


@dataclass(frozen=True)
class Outcome:
    """Metadata of one outcome (one row of the data dictionary)."""

    name: str
    label: str
    unit: str
    description: str
    dimension: Literal["costs", "quality", "health"]
    source: str
    kind: Literal["annual", "wave"] = "annual"
    first_year: int = 2011
    last_year: int = 2023
    comparable_over_time: bool = True
    higher_is_better: bool = False
    #: outcome: analysed as is; count / exposure: numerator and offset of a count model;
    #: covariate: an adjustment variable (e.g. the 65+ share), not an effect to estimate.
    role: Literal["outcome", "count", "exposure", "covariate"] = "outcome"
    #: the label in Dutch (the report's samenvatting), from :data:`LABELS_NL`
    label_nl: str = ""


def _cost(name: str, label: str, what: str, comparable: bool = True) -> Outcome:
    return Outcome(
        name,
        label,
        "EUR per insured-year",
        f"Zvw cost per insured-year: {what}; crude, nominal euros",
        "costs",
        VEKTIS,
        comparable_over_time=comparable,
    )


def _std(base: Outcome) -> Outcome:
    return Outcome(
        base.name + "_std",
        base.label + " (age-sex std.)",
        base.unit,
        base.description.replace(
            "crude",
            "directly age-sex standardised to the national insured population of 2015 (38 cells)",
        ),
        "costs",
        VEKTIS,
        comparable_over_time=base.comparable_over_time,
    )


_BASE = [
    _cost(
        "cost_basket",
        "Cost, fixed basket",
        "fixed basket of categories present in every year 2011-2023 (" + ", ".join(BASKET) + ")",
    ),
    _cost(
        "cost_all",
        "Cost, all categories",
        "all categories; NOT comparable across the 2015 "
        "scope change (district nursing, long-term mental health) and later additions",
        comparable=False,
    ),
    _cost("cost_hospital", "Hospital cost", "medical specialist care"),
    _cost(
        "cost_gp",
        "GP cost",
        "general practice (capitation, consultations, other; "
        "multidisciplinary chronic care 'huisarts_mdz', separate from 2015, excluded)",
    ),
    _cost("cost_pharmacy", "Pharmacy cost", "pharmacy"),
    _cost(
        "cost_mental_health",
        "Mental health cost",
        "mental health care (all GGZ "
        "categories; renamed 2014, long-term GGZ added 2015, split 2022)",
        comparable=False,
    ),
    _cost("cost_paramedical", "Paramedical cost", "physiotherapy and other paramedical care"),
]
_EXTRA = [
    Outcome(
        "hospital_gp_ratio",
        "Hospital/GP cost ratio",
        "ratio",
        "Hospital cost divided by "
        "GP cost (substitution indicator; lower means relatively more primary care)",
        "quality",
        VEKTIS,
    ),
    Outcome(
        "insured_years",
        "Insured-years",
        "insured-years",
        "Vektis insured-years (sum of the harmonised cells; the per-capita denominator)",
        "costs",
        VEKTIS,
        higher_is_better=False,
    ),
    Outcome(
        "total_cost_all",
        "Total cost, all categories",
        "EUR",
        "Total Zvw cost, all categories, nominal euros (a sum; used for conservation checks)",
        "costs",
        VEKTIS,
        comparable_over_time=False,
    ),
    Outcome(
        "admissions_per_1000",
        "Hospital admissions",
        "per 1,000 insured-years",
        "Hospital admissions (all diagnoses, day admissions included) per 1,000 Vektis "
        "insured-years, recomputed from counts; 2013->2014 national drop looks like a series "
        "break",
        "quality",
        CBS_ADM,
        first_year=2013,
        last_year=2022,
    ),
    Outcome(
        "health_good_pct",
        "Good/very good health (%)",
        "% of adults",
        "Share of adults "
        "rating their health good or very good; survey waves with 95% bounds; method "
        "changes between waves",
        "health",
        CBS_GM,
        kind="wave",
        first_year=2012,
        last_year=2022,
        comparable_over_time=False,
        higher_is_better=True,
    ),
]
CAUSES = {
    "all": "all causes",
    "cardiovascular": "diseases of the circulatory system (ICD-10 I00-I99)",
    "cancer": "neoplasms (ICD-10 C00-D48)",
    "respiratory": "diseases of the respiratory system (ICD-10 J00-J99)",
}
_PY = (
    "person-years = mean of the 1 January populations of the year and the next (2018: 1 "
    "January 2018, the last population in the file)"
)
_MORT = [
    Outcome(
        f"mortality_{cause}_per_1000",
        ("All-cause" if cause == "all" else cause.capitalize()) + " mortality per 1,000",
        "deaths per 1,000 person-years",
        f"Deaths ({what}, underlying cause) per 1,000 person-years; crude (not age "
        f"standardised: smr_{cause} is; a sensitivity to ageing); {_PY}; 2023 boundaries by "
        "summing predecessors",
        "health",
        CBS_MORT,
        first_year=1996,
        last_year=2018,
    )
    for cause, what in CAUSES.items()
] + [
    Outcome(
        f"deaths_{cause}",
        f"Deaths, {what.split(' (')[0]}",
        "deaths",
        f"Number of deaths ({what}, underlying cause), harmonised to 2023 boundaries; "
        "the numerator of a count model with log(person_years) as offset",
        "health",
        CBS_MORT,
        first_year=1996,
        last_year=2018,
        role="count",
    )
    for cause, what in CAUSES.items()
]
_MORT += [
    Outcome(
        "person_years",
        "Person-years",
        "person-years",
        f"Population at risk for the mortality outcomes: {_PY}",
        "health",
        CBS_MORT,
        first_year=1996,
        last_year=2018,
        role="exposure",
    ),
    Outcome(
        "share_65plus",
        "Share aged 65+",
        "share (0-1)",
        "Share of the population aged 65 or over, an ageing covariate: residents on 1 "
        "January from CBS 80860ned for 1999-2009, Vektis insured-years aged 65+ from 2011; "
        "2010 and 1996-1998 absent; the two sources differ (series break 2009/2011)",
        "health",
        CBS_AGE,
        first_year=1999,
        last_year=2023,
        comparable_over_time=False,
        role="covariate",
    ),
]
_SMR_HOW = (
    "indirectly standardised for age and sex: expected deaths are national rates by sex and "
    "age (CBS 7052_95) applied to the municipality's population; 2011-2019 Vektis "
    "insured-years by sex and 19 age classes; 1999-2009 CBS 80860ned residents in 5 age "
    "groups (both sexes), spliced to the fine classes by each municipality's 2011 ratio; 2010 "
    "interpolated (age-structure index half-way between 2009 and 2011 x 37259ned "
    "person-years); 1996-1998 not covered. Removes differences in age and sex composition, "
    "not in deprivation, migration or cause-of-death coding"
)
_MORT += [
    Outcome(
        f"smr_{cause}",
        ("All-cause" if cause == "all" else cause.capitalize()) + " mortality, SMR",
        "observed / expected deaths",
        f"Standardised mortality ratio, deaths ({what}, underlying cause) observed over "
        f"expected; {_SMR_HOW}",
        "health",
        CBS_SMR,
        first_year=1999,
        last_year=2019,
    )
    for cause, what in CAUSES.items()
] + [
    Outcome(
        f"smr_{part}_{cause}",
        f"{part.capitalize()} deaths, {what.split(' (')[0]}",
        "deaths",
        f"{part.capitalize()} deaths ({what}) of smr_{cause}: "
        + (
            "harmonised 80142ned counts (equal to deaths_" + cause + ")"
            if part == "observed"
            else "the offset of its count model (log scale); " + _SMR_HOW
        ),
        "health",
        CBS_SMR,
        first_year=1999,
        last_year=2019,
        role="count" if part == "observed" else "exposure",
    )
    for cause, what in CAUSES.items()
    for part in ("observed", "expected")
]
STANDARDISED = [
    "cost_basket",
    "cost_all",
    "cost_hospital",
    "cost_gp",
    "cost_pharmacy",
    "cost_mental_health",
    "cost_paramedical",
]
OUTCOMES: dict[str, Outcome] = {o.name: o for o in _BASE + _EXTRA + _MORT}
#: Rate outcomes with their count model: rate -> (count outcome, exposure outcome).
COUNT_MODELS: dict[str, tuple[str, str]] = {
    f"mortality_{cause}_per_1000": (f"deaths_{cause}", "person_years") for cause in CAUSES
} | {f"smr_{cause}": (f"smr_observed_{cause}", f"smr_expected_{cause}") for cause in CAUSES}
#: A count model's rate is count / exposure times this (per 1,000 person-years; SMR x 1).
RATE_SCALE: dict[str, float] = {
    rate: 1.0 if rate.startswith("smr_") else 1000.0 for rate in COUNT_MODELS
}
OUTCOMES |= {f"{n}_std": _std(OUTCOMES[n]) for n in STANDARDISED}
OUTCOMES |= {  # the basket's parts, for the decomposition (data.components)
    name: replace(
        _std(_cost(name.removesuffix("_std"), en, "a part of the fixed basket (data.components)")),
        name=name,
        label=en + " (age-sex std.)",
    )
    for name, (en, _) in components.labels().items()
}
_CAUSES_NL = {
    "all": "Sterfte, alle oorzaken",
    "cardiovascular": "Sterfte aan hart- en vaatziekten",
    "cancer": "Sterfte aan kanker",
    "respiratory": "Sterfte aan ziekten van de luchtwegen",
}
#: Every outcome's label in Dutch (the report's samenvatting prints these).
LABELS_NL: dict[str, str] = {
    "cost_basket": "Zorgkosten, vast pakket",
    "cost_all": "Zorgkosten, alle categorieën",
    "cost_hospital": "Kosten ziekenhuiszorg",
    "cost_gp": "Kosten huisartsenzorg",
    "cost_pharmacy": "Kosten farmacie",
    "cost_mental_health": "Kosten ggz",
    "cost_paramedical": "Kosten paramedische zorg",
    "hospital_gp_ratio": "Verhouding kosten ziekenhuis/huisarts",
    "insured_years": "Verzekerdenjaren",
    "total_cost_all": "Totale zorgkosten, alle categorieën",
    "admissions_per_1000": "Ziekenhuisopnamen",
    "health_good_pct": "Goed/zeer goed ervaren gezondheid (%)",
    "person_years": "Persoonsjaren",
    "share_65plus": "Aandeel 65-plussers",
    **{f"mortality_{c}_per_1000": f"{label} per 1.000" for c, label in _CAUSES_NL.items()},
    "deaths_all": "Overledenen, alle oorzaken",
    **{
        f"deaths_{c}": f"Overledenen {label.removeprefix('Sterfte ')}"
        for c, label in _CAUSES_NL.items()
        if c != "all"
    },
}
LABELS_NL |= {f"smr_{c}": f"{label}, gestandaardiseerd (SMR)" for c, label in _CAUSES_NL.items()}
LABELS_NL |= {
    f"smr_{p}_{c}": f"{LABELS_NL[f'deaths_{c}']} ({w})"
    for c in _CAUSES_NL
    for p, w in (("observed", "waargenomen"), ("expected", "verwacht"))
}
LABELS_NL |= {
    f"{n}_std": LABELS_NL[n] + " (gestandaardiseerd naar leeftijd en geslacht)"
    for n in STANDARDISED
}
LABELS_NL |= {name: nl for name, (_, nl) in components.labels().items()}
OUTCOMES = {name: replace(o, label_nl=LABELS_NL[name]) for name, o in OUTCOMES.items()}


def get_outcome(name: str) -> Outcome:
    """The outcome called ``name``; KeyError listing the valid names otherwise."""
    try:
        return OUTCOMES[name]
    except KeyError:
        raise UnknownOutcome(f"unknown outcome {name!r}; valid: {sorted(OUTCOMES)}") from None


def dictionary() -> pd.DataFrame:
    """The data dictionary as a frame (one row per outcome)."""
    import pandas as pd

    return pd.DataFrame([asdict(o) for o in OUTCOMES.values()])


def headline_outcomes(outcomes: Sequence[str]) -> list[str]:
    """The first outcome of each Triple Aim dimension, in plan order."""
    firsts: dict[str, str] = {}
    for name in outcomes:
        firsts.setdefault(get_outcome(name).dimension, name)
    return list(firsts.values())
