"""Annotation converters, one module per family; each exports `CONVERTERS` (see `registry`)."""
