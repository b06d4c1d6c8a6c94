"""Difference-in-differences: one entry point (``estimate``) over two-way fixed effects with
the event study and the 2x2 (``twfe``), Callaway & Sant'Anna (``cs``) and imputation
(``imputation``, ``imputation_stage``), on a validated panel (``panel``), with randomization
inference by re-estimation (``placebo``) or by projection (``projection``)."""
