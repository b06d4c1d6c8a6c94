"""Estimators of the Pioneer-site evaluation: difference-in-differences, interrupted time
series and synthetic control / synthetic DiD, with inference that stays honest when
treated clusters are few."""

from proeftuin.estimators.checks import DesignError, InsufficientPrePeriod
from proeftuin.estimators.did import estimate_did
from proeftuin.estimators.its import estimate_its
from proeftuin.estimators.its_placebo import ItsPlaceboResult, estimate_its_placebo
from proeftuin.estimators.results import DidResult, Effect, InferenceResult, ItsResult
from proeftuin.estimators.synth import estimate_synth
from proeftuin.estimators.synth_result import SynthResult

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
