"""The parts of the fixed cost basket: its care categories and its age bands, as cost
columns of the Vektis cells, so that the standardised parts add up to the standardised
basket (``cost_basket_std``) in every municipality and year.

Categories partition the basket's Vektis columns (hospital, GP, pharmacy, paramedical,
devices, dental, patient transport, maternity, cross-border, primary-care support). Age
bands group Vektis's five-year classes: 0-19, 20-64, 65-74 and 75+ (the classes run
0-4, ..., 15-19, so no band can end at 17). A band's column is the basket's cost in its
classes and zero elsewhere; standardised like every cost (national 2015 weights, national
rates where a cell is empty) it is that band's share of the standardised basket. The
standardisation is linear in the cost columns, so the parts sum to the whole exactly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas is imported only where used, to keep plan checks fast
    import pandas as pd

#: Care category -> its Vektis columns; together exactly ``outcomes.BASKET``.
CATEGORIES: dict[str, list[str]] = {
    "hospital": ["medisch_specialistische_zorg"],
    "gp": ["huisarts_inschrijftarief", "huisarts_consult", "huisarts_overig"],
    "pharmacy": ["farmacie"],
    "paramedical": ["paramedische_zorg_fysiotherapie", "paramedische_zorg_overig"],
    "devices": ["hulpmiddelen"],
    "dental": ["mondzorg"],
    "transport": ["ziekenvervoer_zittend", "ziekenvervoer_liggend"],
    "maternity": ["kraamzorg", "verloskundige_zorg"],
    "cross_border": ["grensoverschrijdende_zorg"],
    "primary_support": ["eerstelijns_ondersteuning"],
}
#: Age band -> [first, last] age of its Vektis classes (last None: open).
AGE_BANDS: dict[str, tuple[int, int | None]] = {
    "0_19": (0, 19),
    "20_64": (20, 64),
    "65_74": (65, 74),
    "75plus": (75, None),
}
_LABELS = {
    "hospital": ("hospital", "ziekenhuiszorg"),
    "gp": ("GP", "huisartsenzorg"),
    "pharmacy": ("pharmacy", "farmacie"),
    "paramedical": ("paramedical", "paramedische zorg"),
    "devices": ("medical devices", "hulpmiddelen"),
    "dental": ("dental", "mondzorg"),
    "transport": ("patient transport", "ziekenvervoer"),
    "maternity": ("maternity and midwifery", "kraamzorg en verloskunde"),
    "cross_border": ("cross-border", "grensoverschrijdende zorg"),
    "primary_support": ("primary-care support", "eerstelijns ondersteuning"),
}


def category_column(name: str) -> str:
    return f"cost_basket_part_{name}"


def band_column(name: str) -> str:
    return f"cost_basket_age_{name}"


#: Every part's cost column (cells), in order: categories, then age bands.
COLUMNS = [category_column(c) for c in CATEGORIES] + [band_column(b) for b in AGE_BANDS]


def outcome_name(column: str) -> str:
    """The panel outcome of a part's column: its standardised rate."""
    return column + "_std"


#: The parts' outcomes by kind, as the decomposition asks for them.
PARTS: dict[str, list[str]] = {
    "category": [outcome_name(category_column(c)) for c in CATEGORIES],
    "age_band": [outcome_name(band_column(b)) for b in AGE_BANDS],
}


def labels() -> dict[str, tuple[str, str]]:
    """Outcome -> (English label, Dutch label) of every part."""
    out = {
        outcome_name(category_column(c)): (f"Basket cost: {en}", f"Kosten vast pakket: {nl}")
        for c, (en, nl) in _LABELS.items()
    }
    for band, (lo, hi) in AGE_BANDS.items():
        ages = f"{lo}+" if hi is None else f"{lo}-{hi}"
        out[outcome_name(band_column(band))] = (
            f"Basket cost: ages {ages}",
            f"Kosten vast pakket: leeftijd {ages}",
        )
    return out


def age_of_class(label: str) -> int:
    """First age of a Vektis age class ('15 t/m 19 jaar' -> 15, '90+' -> 90)."""
    return int(label.split(" ")[0].rstrip("+"))


def add_columns(out: pd.DataFrame, cells: pd.DataFrame) -> pd.DataFrame:
    """``out`` (cells with ``age`` and ``cost_basket``) with a column per part: each
    category's Vektis columns summed from ``cells`` (the same rows), each age band's basket
    cost (zero outside the band)."""
    parts = {}
    for name, cols in CATEGORIES.items():
        present = [c for c in cols if c in cells.columns]
        parts[category_column(name)] = cells[present].sum(axis=1) if present else 0
    first_age = out["age"].map(age_of_class)
    for band, (lo, hi) in AGE_BANDS.items():
        inside = (first_age >= lo) & (first_age <= (hi if hi is not None else 200))
        parts[band_column(band)] = out["cost_basket"].where(inside, 0)
    return out.assign(**parts)
