"""Layer 1 — the data model shared by everything: points, field types, line protocol,
annotated CSV, time and geo primitives. Imports nothing from fluxlab."""
