"""fluxlab: time-stamped public data from CSV to a time-series store, Flux/SQL, geo and dashboards.

Layers (each imports only the ones above it in this list):
model -> storage -> ingest -> flux -> backends -> server / analysis / viz / datasets -> cli
"""

__version__ = "0.1.0"
