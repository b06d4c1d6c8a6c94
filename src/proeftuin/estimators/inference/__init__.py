"""Inference for few treated clusters: CRV1 flags, the wild cluster bootstrap and
randomization inference (``methods``), compact placebo assignments (``assignments``) and one
random stream per method and item (``streams``)."""
