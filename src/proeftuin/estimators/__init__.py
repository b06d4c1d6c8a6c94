"""Estimators of the Pioneer-site evaluation: difference-in-differences, interrupted time
series and synthetic control / synthetic DiD, with inference that stays honest when
treated clusters are few."""

from proeftuin.estimators.checks import DesignError, InsufficientPrePeriod
from proeftuin.estimators.did.estimate import estimate_did
from proeftuin.estimators.its.estimate import estimate_its
from proeftuin.estimators.its.placebo import ItsPlaceboResult, estimate_its_placebo
from proeftuin.estimators.results import DidResult, Effect, InferenceResult, ItsResult
from proeftuin.estimators.synth.estimate import estimate_synth
from proeftuin.estimators.synth.result import SynthResult

__all__ = [
    "DesignError",
    "DidResult",
    "Effect",
    "InferenceResult",
    "InsufficientPrePeriod",
    "ItsPlaceboResult",
    "ItsResult",
    "SynthResult",
    "estimate_did",
    "estimate_its",
    "estimate_its_placebo",
    "estimate_synth",
]
