"""The data layer: municipality geography and mergers, the outcome catalogue, the
harmonised panel (built and validated in ``panel``, read by ``processed`` without the
build's imports), registry mortality, and the site registry with its control pools."""
