"""Interrupted time series: segmented regression of one series, alone or against a
control (``estimate``), and placebo-in-space and placebo-in-time inference for one treated
series (``placebo``, with the site and placebo series built in one pass by ``refit``)."""
