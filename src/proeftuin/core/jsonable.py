"""Plain-JSON conversion of results: no I/O, so the estimators may use it too."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON: non-finite floats become None, numpy scalars and arrays
    plain numbers and lists, data frames lists of records (one dict per row)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # a DataFrame; no pandas import
        return json_safe(value.to_dict(orient="records"))
    if getattr(value, "ndim", 0) and hasattr(value, "tolist"):  # an array
        return json_safe(value.tolist())
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
