"""Estimators of the Pioneer-site evaluation: difference-in-differences and interrupted
time series, with inference that stays honest when treated clusters are few."""

from proeftuin.estimators.did import estimate_did
from proeftuin.estimators.its import estimate_its
from proeftuin.estimators.results import DidResult, Effect, InferenceResult, ItsResult
from proeftuin.estimators.validation import DesignError, InsufficientPrePeriod

__all__ = [
    "DesignError",
    "DidResult",
    "Effect",
    "InferenceResult",
    "InsufficientPrePeriod",
    "ItsResult",
    "estimate_did",
    "estimate_its",
]
