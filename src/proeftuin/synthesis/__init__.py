"""Across sites and designs, from results files: pooling and the scorecard (``pooling``),
the designs side by side (``side_by_side``), their figures (``figures``), and the
replication of published results (``validation``)."""
