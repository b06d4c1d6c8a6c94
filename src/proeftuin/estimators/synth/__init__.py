"""Synthetic control and synthetic DiD: one entry point (``estimate``) over a validated
balanced panel (``panel``), synthdid's Frank-Wolfe weights (``weights``, compiled in
``solver``), their inference (``inference``) and result object (``result``)."""
