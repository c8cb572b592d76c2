"""Layer 3 — readers (line protocol, annotated CSV, mapped CSV) producing Arrow batches,
transforms, error accounting, external sort. Imports `model` and `storage`."""
