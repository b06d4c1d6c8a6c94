"""Foundations every layer may import: the one error hierarchy, settings and paths,
atomic file writes, plain JSON, checksums and provenance records."""
