"""Thin adapters to the plan, the site registry and the outcome catalogue.

Every other report module reaches these through this module (``facts.site_info(...)``), so
that a test can replace one fact source for the whole report.
"""

from __future__ import annotations

from typing import Any


def load_plan() -> Any:
    from proeftuin.plan import load_plan as _load

    return _load()


def site_info(site_id: str) -> dict[str, Any]:
    """Registry facts for a site; only the id when the registry cannot tell more."""
    info: dict[str, Any] = {"id": site_id, "name": site_id, "municipalities": []}
    try:
        from proeftuin.regions import load_registry

        site = load_registry().sites[site_id]
    except Exception:  # noqa: BLE001 - the page states what is missing
        info["missing"] = True
        return info
    keys = ("name", "municipalities", "municipality_names", "start_year", "lead_insurer")
    for key in (*keys, "status", "sources"):
        info[key] = getattr(site, key, info.get(key))
    return info


def outcome_info(name: str) -> dict[str, Any]:
    """Label, unit, dimension and direction of an outcome; the bare name when unknown."""
    info: dict[str, Any] = {
        "name": name,
        "label": name,
        "unit": "",
        "description": "",
        "dimension": "",
        "higher_is_better": None,
    }
    try:
        from proeftuin.outcomes import get_outcome

        outcome = get_outcome(name)
    except Exception:  # noqa: BLE001 - an unknown outcome keeps its name
        return info
    for key in ("label", "unit", "description", "dimension"):
        info[key] = str(getattr(outcome, key, info[key]) or "")
    info["higher_is_better"] = bool(getattr(outcome, "higher_is_better", False))
    return info


def outcome_label(name: str) -> str:
    """``Label (unit)`` for a reader, without repeating a unit the label already names."""
    info = outcome_info(name)
    label, unit = str(info["label"]), str(info.get("unit") or "")
    if not unit or unit == "ratio" or unit in label:
        return label
    if label.endswith(")") and "(" in label:
        head, _, inner = label[:-1].rpartition("(")
        if unit.startswith(inner):  # "Good health (%)" + "% of adults"
            return f"{head}({unit})"
    return f"{label} ({unit})"


def better_direction(name: str) -> str:
    """``"higher"``, ``"lower"`` or ``""`` (unknown): which way is good for the outcome."""
    flag = outcome_info(name).get("higher_is_better")
    if flag is None:
        return ""
    return "higher" if flag else "lower"


def site_name(site_id: str) -> str:
    return str(site_info(site_id).get("name") or site_id)
